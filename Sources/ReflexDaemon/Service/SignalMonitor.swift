#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGTERM, SIGINT and SIGHUP into bytes on a pipe, so that the serving loop's poller
/// wakes at once (a signal handler may only do async-signal-safe work: one write).
public final class SignalMonitor: @unchecked Sendable {
    public enum Event: Sendable { case stop, reload }

    /// The read end, for the poller.
    public let fd: Int32
    nonisolated(unsafe) private static var writeFD: Int32 = -1

    public init() {
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        for f in fds { _ = fcntl(f, F_SETFL, fcntl(f, F_GETFL) | O_NONBLOCK) }
        fd = fds[0]
        Self.writeFD = fds[1]
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            signal(sig) { s in
                var b: UInt8 = s == SIGHUP ? 1 : 0
                _ = write(SignalMonitor.writeFD, &b, 1)
            }
        }
        signal(SIGPIPE, SIG_IGN)
    }

    /// Signals received since the last call, in order.
    public func drain() -> [Event] {
        var events: [Event] = []
        var buf = [UInt8](repeating: 0, count: 64)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            events += buf[0..<n].map { $0 == 1 ? .reload : .stop }
        }
        return events
    }
}
