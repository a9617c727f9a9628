/// What the serving core runs with: the model bundle and its compute threads, the budget, the
/// scheduler, and the limits on what robots can make it hold. `reflexd` takes them from its
/// config file (`model`, `engine`, `budget`, `scheduler`, `limits`).
package struct ServingSettings: Equatable, Sendable {
    /// The model bundle's directory.
    package var model: String
    package var threads: Int
    package var budget: BudgetConfig
    package var scheduler: SchedulerConfig
    /// Larger requests are answered `too_large`.
    package var maxMessageBytes: Int
    /// Robots served at once; a step of one more is answered `overloaded`.
    package var maxSessions: Int
    /// A robot silent this long loses its session.
    package var sessionIdleSeconds: Double
    /// Steps of one robot waiting at once; past it the oldest is answered `stale` (latest wins).
    package var pendingPerRobot: Int

    package init(model: String, threads: Int = 1, budget: BudgetConfig = BudgetConfig(),
                 scheduler: SchedulerConfig = SchedulerConfig(), maxMessageBytes: Int = 8_388_608,
                 maxSessions: Int = 64, sessionIdleSeconds: Double = 60, pendingPerRobot: Int = 1) {
        self.model = model
        self.threads = threads
        self.budget = budget
        self.scheduler = scheduler
        self.maxMessageBytes = maxMessageBytes
        self.maxSessions = maxSessions
        self.sessionIdleSeconds = sessionIdleSeconds
        self.pendingPerRobot = pendingPerRobot
    }
}
