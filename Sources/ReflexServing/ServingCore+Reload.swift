/// Changing what is served while serving: a live budget (the control socket) and a reload
/// (new settings). Either applies whole or, when it throws, changes nothing.
extension ServingCore {
    /// Applies a budget: thresholds from the next step on; a new memory cap reloads the model
    /// to the depth that fits (sessions keep their state: the head is the same). Returns the new
    /// number of loaded exits when it moved.
    @discardableResult
    package func applyBudget(_ budget: BudgetConfig) throws -> Int? {
        var p = planner
        let loaded = try p.apply(budget)
        var moved: Int?
        if loaded != model.policy.loadedExits {
            model = try LoadedModel(directory: settings.model, upToExit: loaded, maxMessageBytes: settings.maxMessageBytes,
                                    threads: settings.threads)
            moved = loaded
        }
        planner = p
        settings.budget = budget
        return moved
    }

    /// Serves with `next` from now on. Another bundle, scheduler, thread count or message limit
    /// loads the model again (the deadline guard's measurements stay when the bundle directory
    /// does); a bundle with other weights resets every session's recurrent state and the
    /// statistics. Queued steps stay queued and are served by the new model. Otherwise only the
    /// budget is applied. The session limits take effect at once.
    @discardableResult
    package func reload(to next: ServingSettings) throws -> ServingReload {
        let change: ServingReload
        if next.model != settings.model || next.scheduler != settings.scheduler || next.threads != settings.threads
            || next.maxMessageBytes != settings.maxMessageBytes {
            let (m, loaded) = try Self.loadModel(next)
            var p = loaded
            p.deadlineGuard = next.model == settings.model ? planner.deadlineGuard : p.deadlineGuard
            let reset = m.bundle.sha256 != model.bundle.sha256
            if reset {
                sessions.resetAll(makeState: m.policy.makeState)
                stats = ServingStats(exits: m.exits)
            }
            model = m
            planner = p
            change = .modelLoaded(sessionsReset: reset)
        } else {
            change = .budgetApplied(loadedExits: try applyBudget(next.budget))
        }
        settings = next
        sessions.maxSessions = next.maxSessions
        sessions.idleNanoseconds = UInt64(next.sessionIdleSeconds * 1e9)
        return change
    }
}
