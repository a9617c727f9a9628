/// The keys of the config and the range each value must fall in, shared by the YAML loader and
/// the control socket's live budget update so that both accept exactly the same values.
package enum ConfigRules {
    /// A check on a number, with the requirement in words for the error message.
    package struct NumberRule: Sendable {
        package let requirement: String
        package let accepts: @Sendable (Double) -> Bool
    }

    /// A range for an integer, with the requirement in words.
    package struct IntegerRule: Sendable {
        package let range: ClosedRange<Int>
        var requirement: String { "must be an integer from \(range.lowerBound) to \(range.upperBound)" }
    }

    // MARK: Ranges

    package static let averageFraction = NumberRule(requirement: "must be in (0, 1]") { $0 > 0 && $0 <= 1 }

    // Every duration and size has an upper bound, so that no value the file or the control
    // socket can hold overflows a conversion in the daemon (`1e11` seconds once trapped in
    // `UInt64(seconds * 1e9)` at start and on SIGHUP, after passing --check-config).
    /// GFLOPs per step: far above any policy a robot computer runs.
    package static let averageGflops = NumberRule(requirement: "must be > 0 and at most 1000000") { $0 > 0 && $0 <= 1e6 }
    /// A per-step deadline over one minute is a typo (a control loop runs at 1-1000 Hz).
    package static let deadlineMs = NumberRule(requirement: "must be > 0 and at most 60000 (one minute)") { $0 > 0 && $0 <= 60_000 }
    /// MiB: up to 1 TiB.
    package static let memoryMB = NumberRule(requirement: "must be > 0 and at most 1048576 (1 TiB)") { $0 > 0 && $0 <= 1_048_576 }
    /// Seconds: up to one week.
    package static let sessionIdleS = NumberRule(requirement: "must be > 0 and at most 604800 (one week)") { $0 > 0 && $0 <= 604_800 }
    static let probeRate = NumberRule(requirement: "must be in [0, 1)") { $0 >= 0 && $0 < 1 }
    /// Bounded so a typo cannot make the scheduler allocate gigabytes of history.
    package static let window = IntegerRule(range: 1...1_048_576)
    /// Bounded: more compute threads than this is a typo on any robot computer.
    package static let threads = IntegerRule(range: 1...256)
    /// Up to 1 GiB: ZeroMQ's own cut-off sits above it, and a bigger observation is a bug.
    package static let maxMessageBytes = IntegerRule(range: 1...1_073_741_824)
    package static let maxSessions = IntegerRule(range: 1...1_000_000)
    package static let pendingPerRobot = IntegerRule(range: 1...1_024)

    // MARK: Keys

    package static let rootKeys = ["model", "endpoints", "budget", "scheduler", "engine", "limits", "logging", "security", "metrics", "trace"]
    static let endpointKeys = ["policy", "actions", "control"]
    static let budgetKeys = ["average_fraction", "average_gflops", "deadline_ms", "memory_mb"]
    static let schedulerKeys = ["mode", "probe_rate", "window"]
    static let engineKeys = ["threads"]
    static let limitsKeys = ["max_message_bytes", "max_sessions", "session_idle_s", "pending_per_robot"]
    static let loggingKeys = ["level"]
    static let securityKeys = ["curve"]
    static let curveKeys = ["enabled", "server_secret_key", "authorized_keys", "operator_keys"]
    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Every key with its full path, to suggest `budget.deadline_ms` for a `deadline_ms`
    /// written in the wrong section.
    package static let allKeyPaths: [String] =
        ["model", "security.curve"]
        + endpointKeys.map { "endpoints.\($0)" }
        + budgetKeys.map { "budget.\($0)" }
        + schedulerKeys.map { "scheduler.\($0)" }
        + engineKeys.map { "engine.\($0)" }
        + limitsKeys.map { "limits.\($0)" }
        + loggingKeys.map { "logging.\($0)" }
        + curveKeys.map { "security.curve.\($0)" }
        + metricsKeys.map { "metrics.\($0)" }
        + traceKeys.map { "trace.\($0)" }
}
