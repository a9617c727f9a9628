import ReflexServing

extension DaemonConfig {
    /// What the serving core runs with, from the `model`, `engine`, `budget`, `scheduler` and
    /// `limits` sections.
    var serving: ServingSettings {
        ServingSettings(model: model, threads: engine.threads, budget: budget, scheduler: scheduler,
                        maxMessageBytes: limits.maxMessageBytes, maxSessions: limits.maxSessions,
                        sessionIdleSeconds: limits.sessionIdleS, pendingPerRobot: limits.pendingPerRobot)
    }
}
