import ReflexEngine
import ReflexWire

/// Serving without sockets: what `reflexd`'s loop decides, given the messages it received and
/// a clock. It admits step requests (sessions, the session cap, latest wins per robot), answers
/// pings and resets, runs the oldest queued step under the budget, drains the queue at shutdown
/// and swaps the model on a reload or a memory cap. Replies and published copies go to the
/// outbox as values; the caller owns the sockets and the loop.
package final class ServingCore {
    package let clock: any ServingClock
    /// The build answered in a `pong`.
    package let version: String
    let outbox: any ServingOutbox
    package internal(set) var settings: ServingSettings
    package internal(set) var model: LoadedModel
    package internal(set) var planner: BudgetPlanner
    package internal(set) var sessions: SessionTable
    package internal(set) var stats: ServingStats
    package internal(set) var queue = LatestWinsQueue<PendingStep>(robotOf: \.robot)
    /// While paused (by the operator), steps are answered `paused`.
    package var paused = false

    /// Serves `model` with `planner` (from `loadModel(settings)`).
    package init(settings: ServingSettings, model: LoadedModel, planner: BudgetPlanner, clock: any ServingClock,
                 version: String, outbox: any ServingOutbox) {
        self.settings = settings
        self.model = model
        self.planner = planner
        self.clock = clock
        self.version = version
        self.outbox = outbox
        sessions = SessionTable(maxSessions: settings.maxSessions, idleSeconds: settings.sessionIdleSeconds)
        stats = ServingStats(exits: model.exits)
    }

    /// Loads the model of `settings` and serves it.
    package convenience init(settings: ServingSettings, clock: any ServingClock, version: String,
                             outbox: any ServingOutbox) throws {
        let (model, planner) = try Self.loadModel(settings)
        self.init(settings: settings, model: model, planner: planner, clock: clock, version: version, outbox: outbox)
    }

    /// The bundle of `settings`, loaded to the depth its memory cap allows, and the planner of
    /// its budget. Throws when the bundle cannot be read or the budget cannot be met.
    package static func loadModel(_ settings: ServingSettings) throws -> (LoadedModel, BudgetPlanner) {
        let full = try LoadedModel(directory: settings.model, upToExit: nil, maxMessageBytes: settings.maxMessageBytes,
                                   threads: settings.threads)
        let planner = try BudgetPlanner(cost: full.policy.cost, calibration: full.bundle.calibration,
                                        budget: settings.budget, scheduler: settings.scheduler)
        let loaded = planner.loadedExits
        let model = loaded == full.exits ? full
            : try LoadedModel(directory: settings.model, upToExit: loaded, maxMessageBytes: settings.maxMessageBytes,
                              threads: settings.threads)
        return (model, planner)
    }

    /// Drops every session unused for longer than the idle timeout; returns their robot ids.
    package func evictIdleSessions() -> [String] {
        sessions.evictIdle(now: clock.now())
    }

    /// Shutdown: serves the queued steps, oldest first, while the clock is before `deadline`,
    /// and answers the rest `overloaded` (the daemon is stopping): none is left unanswered.
    package func drainQueue(deadline: UInt64) {
        while !queue.isEmpty {
            let p = queue.removeFirst()
            if clock.now() < deadline { serve(p) } else {
                refuse(WireError(.overloaded, "the daemon is stopping", robot: p.request.header.robot, seq: p.request.header.seq),
                       envelope: p.envelope)
            }
        }
    }

    /// Answers a request with an error reply, counted in the statistics.
    func refuse(_ error: WireError, envelope: [[UInt8]]) {
        stats.countError(error.code.rawValue)
        outbox.post(.reply(ServingReply(envelope: envelope, header: ReplyEncoder.error(error), refusal: error)))
    }
}
