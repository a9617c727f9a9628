import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The systemd notify protocol (sd_notify(3)) without libsystemd: datagrams to $NOTIFY_SOCKET.
/// A no-op when the variable is absent (not started by systemd).
public final class SystemdNotifier: @unchecked Sendable {
    private let path: String?
    /// Half of $WATCHDOG_USEC, when systemd asked for watchdog pings.
    public let watchdogInterval: Double?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = usec / 2 / 1e6
        } else {
            watchdogInterval = nil
        }
    }

    public var isEnabled: Bool { path != nil }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func status(_ s: String) { send("STATUS=\(s)") }
    public func watchdog() { send("WATCHDOG=1") }
    public func stopping() { send("STOPPING=1") }
    public func reloading() { send("RELOADING=1") }

    /// Sends one notification; failures are ignored, as sd_notify does (the service keeps running).
    public func send(_ message: String) {
        guard let path else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { return }
        withUnsafeMutableBytes(of: &addr.sun_path) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        _ = message.withCString { msg in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, msg, strlen(msg), Int32(MSG_NOSIGNAL), $0, len)
                }
            }
        }
    }
}
