/// The `limits` section: what protects the daemon from clients. Defaults are the shipped values.
public struct LimitsConfig: Sendable, Equatable {
    /// Larger requests are answered `too_large`. 1...1 GiB; default 8 MiB.
    public var maxMessageBytes: Int
    /// Sessions (robots) served at once; past it, `overloaded`. Default 64.
    public var maxSessions: Int
    /// A robot silent this long (seconds, > 0) loses its session. Default 60.
    public var sessionIdleS: Double
    /// Requests of one robot waiting at once; older ones are answered `stale`. Default 1.
    public var pendingPerRobot: Int

    public init(
        maxMessageBytes: Int = 8_388_608, maxSessions: Int = 64, sessionIdleS: Double = 60,
        pendingPerRobot: Int = 1
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxSessions = maxSessions
        self.sessionIdleS = sessionIdleS
        self.pendingPerRobot = pendingPerRobot
    }
}
