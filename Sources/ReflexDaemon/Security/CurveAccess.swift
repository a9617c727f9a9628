import Foundation
import Logging
import ReflexServing
import ZeroMQ

/// Who may do what with CURVE on (CONTRACT section 4): robot keys (`authorized_keys`) on the
/// policy and actions sockets, operator keys (`operator_keys`) on the control socket only. The
/// sockets carry different ZAP domains, so one handler tells them apart.
enum CurveAccess {
    /// ZAP domain of the policy and actions sockets.
    static let robotDomain = "reflex"
    /// ZAP domain of the control socket.
    static let controlDomain = "reflex-control"

    /// At most this many admission/denial lines per `logWindowSeconds`; the rest are counted
    /// and reported in one line when the window ends (a reconnect storm must not flood journald).
    static let logLinesPerWindow = 20
    static let logWindowSeconds: UInt64 = 10

    /// The ZAP decision for `keys`; logs admissions and denials with the key's identity (its
    /// file name), rate-limited. `directory` (the denial log's) is set to these keys' names.
    static func policy(_ keys: CurveServerKeys, log: Logger, directory: KeyDirectory? = nil) -> @Sendable (ZAPAuthenticator.Request) -> Bool {
        let robots = keys.robotKeys.names, operators = keys.operatorKeys.names
        directory?.set(robots: robots, operators: operators)
        return { request in
            guard request.mechanism == "CURVE", let key = request.clientPublicKey else { return false }
            let name: String?
            switch request.domain {
            case controlDomain: name = operators[key]
            case robotDomain: name = robots[key]
            default: name = nil
            }
            guard let name else { return false }
            limiter.log(log, .info, "CURVE client admitted", [
                "key": "\(name)", "socket": "\(socketName(request.domain))",
                "address": "\(request.address)",
            ])
            return true
        }
    }

    /// A denied key that is known in the other role is named, with why (a robot key asking the
    /// control socket); an unknown one is shown by its public key.
    static func logDenial(_ denial: ZAPAuthenticator.Denial, log: Logger, directory: KeyDirectory? = nil) {
        let request = denial.request
        var metadata: Logger.Metadata = [
            "address": "\(request.address)", "reason": "\(denial.reason)",
            "socket": "\(socketName(request.domain))",
        ]
        if let key = request.clientPublicKey {
            if let (name, role) = directory?.lookup(key) {
                metadata["key"] = "\(name)"
                metadata["reason"] = "\(role == .robot ? "a robot key, not an operator key" : "an operator key, not a robot key")"
            } else {
                metadata["public_key"] = "\(key)"
            }
        }
        limiter.log(log, .warning, "CURVE client denied", metadata)
    }

    /// The sockets a ZAP domain stands for, as the log names them.
    private static func socketName(_ domain: String) -> String {
        domain == controlDomain ? "control" : "policy/actions"
    }

    /// Logs how many keys each folder gave and every file that was skipped, and why.
    static func logLoaded(_ keys: CurveServerKeys, log: Logger) {
        for folder in [keys.robotKeys, keys.operatorKeys] {
            for skipped in folder.skipped { log.warning("key file skipped", metadata: ["problem": "\(skipped)"]) }
        }
        log.info("CURVE keys loaded", metadata: [
            "robots": "\(keys.robotKeys.names.count)", "operators": "\(keys.operatorKeys.names.count)",
        ])
    }

    private static let limiter = LogRateLimiter(lines: logLinesPerWindow, windowSeconds: logWindowSeconds)
}


/// The names of the keys admitted now, by role (replaced on every reload): the denial log
/// reads them from the ZAP handler's thread.
final class KeyDirectory: @unchecked Sendable {
    enum Role { case robot, `operator` }
    private let lock = NSLock()
    private var robots: [String: String] = [:], operators: [String: String] = [:]

    func set(robots: [String: String], operators: [String: String]) {
        lock.lock(); defer { lock.unlock() }
        self.robots = robots; self.operators = operators
    }

    /// (file name, role) of a Z85 public key, or nil when no folder holds it.
    func lookup(_ key: String) -> (String, Role)? {
        lock.lock(); defer { lock.unlock() }
        if let name = robots[key] { return (name, .robot) }
        if let name = operators[key] { return (name, .operator) }
        return nil
    }
}

/// A fixed-window line limiter shared by threads (the ZAP handler logs from its own).
final class LogRateLimiter: @unchecked Sendable {
    private let lines: Int
    private let windowNanoseconds: UInt64
    private let lock = NSLock()
    private var windowStart: UInt64 = 0
    private var written = 0
    private var suppressed = 0

    init(lines: Int, windowSeconds: UInt64) {
        self.lines = lines
        windowNanoseconds = windowSeconds * 1_000_000_000
    }

    func log(_ log: Logger, _ level: Logger.Level, _ message: Logger.Message, _ metadata: Logger.Metadata, now: UInt64 = MonotonicClock().now()) {
        lock.lock()
        var dropped = 0
        if now &- windowStart >= windowNanoseconds {
            dropped = suppressed
            windowStart = now
            written = 0
            suppressed = 0
        }
        let allowed = written < lines
        if allowed { written += 1 } else { suppressed += 1 }
        lock.unlock()
        if dropped > 0 { log.warning("similar log lines suppressed", metadata: ["lines": "\(dropped)"]) }
        if allowed { log.log(level: level, message, metadata: metadata) }
    }
}
