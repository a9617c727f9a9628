import Foundation

/// A ZeroMQ endpoint the daemon binds, checked before any socket sees it so that a typo is a
/// config error with a line number rather than a zmq error at start-up.
package struct EndpointAddress: Equatable {
    enum Transport: String {
        case tcp, ipc, inproc
    }

    let transport: Transport
    /// The endpoint string to bind (an ipc path made absolute).
    let endpoint: String
    /// Only loopback tcp, ipc and inproc are unreachable from other machines.
    package let isLocalOnly: Bool

    /// The longest ipc path a Unix socket address holds (sun_path is 108 bytes with the NUL).
    static let maxIPCPathBytes = 107

    /// Parses and checks `text`; a relative ipc path is resolved against `baseDirectory`.
    /// Returns the reason in words when the endpoint is not acceptable.
    package static func parse(_ text: String, baseDirectory: URL?) -> Result<EndpointAddress, EndpointProblem> {
        if let rest = text.dropPrefix("tcp://") {
            return parseTCP(rest, endpoint: text)
        }
        if let path = text.dropPrefix("ipc://") {
            guard !path.isEmpty else { return .failure(.init("ipc endpoint needs a path, as in ipc:///run/reflexd/policy.sock")) }
            // '@' names Linux's abstract socket namespace: not a file path, nothing to resolve.
            var resolved = path
            if !path.hasPrefix("/"), !path.hasPrefix("@") {
                resolved = ConfigPaths.resolve(path, against: baseDirectory)
            }
            guard resolved.utf8.count <= maxIPCPathBytes else {
                return .failure(.init("ipc path is \(resolved.utf8.count) bytes; Unix sockets allow \(maxIPCPathBytes)"))
            }
            return .success(EndpointAddress(transport: .ipc, endpoint: "ipc://" + resolved, isLocalOnly: true))
        }
        if let name = text.dropPrefix("inproc://") {
            guard !name.isEmpty else { return .failure(.init("inproc endpoint needs a name")) }
            return .success(EndpointAddress(transport: .inproc, endpoint: text, isLocalOnly: true))
        }
        return .failure(.init("must be a tcp://HOST:PORT, ipc://PATH or inproc://NAME endpoint, got \"\(text)\""))
    }

    private static func parseTCP(_ rest: String, endpoint: String) -> Result<EndpointAddress, EndpointProblem> {
        guard let colon = rest.lastIndex(of: ":") else {
            return .failure(.init("tcp endpoint needs HOST:PORT, as in tcp://127.0.0.1:5555"))
        }
        var host = String(rest[..<colon])
        let port = String(rest[rest.index(after: colon)...])
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else {
                return .failure(.init("tcp endpoint has a malformed [IPv6] host"))
            }
            host = String(host.dropFirst().dropLast())
        }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            return .failure(.init("tcp endpoint needs a host (an address, a name, or * for all interfaces)"))
        }
        // '*' asks the system for a free port (ZeroMQ's wildcard); otherwise 1-65535.
        guard port == "*" || (port.allSatisfy(\.isASCII) && UInt16(port).map { $0 > 0 } == true) else {
            return .failure(.init("tcp port must be 1-65535 or *, got \"\(port)\""))
        }
        return .success(EndpointAddress(transport: .tcp, endpoint: endpoint, isLocalOnly: isLoopback(host)))
    }

    /// Conservative: only names that cannot mean another machine count as loopback. A host name
    /// that happens to resolve to 127.0.0.1 is not trusted, since DNS can change.
    static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "lo" || lowered == "::1" || lowered == "::ffff:127.0.0.1" {
            return true
        }
        let octets = lowered.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return false }
        return octets[0] == "127"
    }
}

/// Why an endpoint string was refused, in words.
package struct EndpointProblem: Error, Equatable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

extension String {
    /// The rest of the string after `prefix`, or nil when it does not start with it.
    fileprivate func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
