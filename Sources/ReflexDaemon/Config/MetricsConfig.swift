/// The `metrics` section (CONTRACT section 4): where `reflexd` serves `/metrics` in the
/// Prometheus text exposition format. Absent = no HTTP listener at all.
public struct MetricsConfig: Sendable, Equatable {
    /// The address to listen on: an IPv4 literal or an IPv6 literal (written `[::1]` in the
    /// config); `localhost` is read as 127.0.0.1. Host names are not resolved.
    public var host: String
    /// TCP port; 0 asks the system for a free one (the bound port is logged).
    public var port: UInt16

    public init(host: String = "127.0.0.1", port: UInt16 = 9464) {
        self.host = host
        self.port = port
    }

    /// Whether only this machine can reach the listener (a 127.x.y.z or ::1 address).
    public var isLoopback: Bool { EndpointAddress.isLoopback(host) }

    /// `HOST:PORT` as the config writes it.
    public var listen: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `HOST:PORT`; the reason in words when it is not acceptable.
    static func parse(_ text: String) -> Result<MetricsConfig, EndpointProblem> {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex else {
            return .failure(.init("must be HOST:PORT, as in 127.0.0.1:9464, got \"\(text)\""))
        }
        var host = String(text[..<colon])
        let port = String(text[text.index(after: colon)...])
        guard port.allSatisfy(\.isASCII), let number = UInt16(port) else {
            return .failure(.init("port must be 0-65535 (0: any free port), got \"\(port)\""))
        }
        if host.hasPrefix("[") || host.hasSuffix("]") {
            guard host.hasPrefix("["), host.hasSuffix("]"), host.count > 2 else {
                return .failure(.init("malformed [IPv6] host \"\(host)\""))
            }
            host = String(host.dropFirst().dropLast())
            guard isIPv6(host) else { return .failure(.init("\"\(host)\" is not an IPv6 address")) }
        } else if host.lowercased() == "localhost" {
            host = "127.0.0.1"
        } else if !isIPv4(host) {
            return .failure(.init("host must be an IPv4 address, [IPv6] address or localhost (names are not resolved), got \"\(host)\""))
        }
        return .success(MetricsConfig(host: host, port: number))
    }

    static func isIPv4(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && UInt8($0) != nil }
    }

    static func isIPv6(_ host: String) -> Bool {
        host.contains(":") && host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
            && host.split(separator: ":", omittingEmptySubsequences: false).count <= 8
    }
}
