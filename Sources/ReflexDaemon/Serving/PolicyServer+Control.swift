import Logging
import ReflexServing
import ReflexWire

/// The control socket (CONTRACT section 7): stats, live budgets, pause/resume, and the gauges' snapshot.
extension PolicyServer {
    // MARK: - Control socket

    func drainControl() {
        for _ in 0..<64 {
            guard let frames = (try? controlSocket.tryReceiveMultipart()) ?? nil else { return }
            let answer = control(frames.first.map { $0.bytes } ?? [])
            // Gauges first, so that a scrape after the answer sees what the command did.
            observability.refresh(now: clock.now(), force: true) { servingSnapshot }
            _ = try? controlSocket.send([answer])
        }
    }

    func control(_ bytes: [UInt8]) -> String {
        guard case .object(let req)? = try? WireJSON.parse(bytes), case .string(let cmd)? = req["cmd"] else {
            return #"{"error":"expected a JSON object with a string \"cmd\""}"#
        }
        switch cmd {
        case "stats": return ControlReply.json(statsReply)
        case "budget":
            do {
                let updated = try config.budget.updated(with: req)
                try applyBudget(updated)
                return ControlReply.json(["budget": budgetReply])
            } catch {
                return ControlReply.error("\(error)")
            }
        case "reload":
            return reload(reason: "control socket") ? ControlReply.json(["ok": true]) : ControlReply.error("the config file is invalid; the old config stays (see the log)")
        case "pause":
            core.paused = true
            log.notice("paused by the operator: steps are answered 'paused'")
            return ControlReply.json(["paused": true])
        case "resume":
            core.paused = false
            log.notice("resumed by the operator")
            return ControlReply.json(["paused": false])
        default:
            return ControlReply.error("unknown command '\(cmd)' (stats, budget, reload, pause, resume)")
        }
    }

    var budgetReply: ControlReply.Budget {
        let planner = core.planner
        let average: BudgetAverage
        switch planner.budget.average {
        case .fraction(let f): average = .fraction(f)
        case .gflops(let g): average = .gflops(g)
        }
        return ControlReply.Budget(average: average, deadlineMs: planner.budget.deadlineMs, memoryMB: planner.budget.memoryMB)
    }

    var statsReply: ControlReply.Stats {
        let stats = core.stats, planner = core.planner, model = core.model
        return ControlReply.Stats(
            steps: stats.steps, errors: stats.errors, exitHistogram: stats.exitHistogram, windowSteps: planner.windowSteps,
            meanGflops: planner.meanGFLOPs, meanFraction: planner.meanFraction, latencyUs: stats.latencySummary,
            deadlineMisses: stats.deadlineMisses, probes: stats.probes, reasons: stats.reasons, thresholds: planner.thresholds,
            budget: budgetReply, loadedExits: model.policy.loadedExits, residentModelBytes: model.bundle.residentBytes,
            sessions: core.sessions.count, paused: core.paused, scheduler: config.scheduler.mode == .online ? "online" : "fixed",
            model: model.bundle.manifest.name, modelSHA256: model.bundle.sha256, curveDenied: authenticator?.denialCount,
            robots: observability.robots.statsReply, metricsListen: observability.metricsAddress,
            trace: observability.tracing ? ControlReply.Trace(written: observability.traceWritten, dropped: observability.traceDropped) : nil)
    }

    /// What the metrics' gauges show (ServingObservability.refresh).
    var servingSnapshot: ServingSnapshot {
        let planner = core.planner, model = core.model
        let targetFraction = planner.targetFraction
        return ServingSnapshot(
            targetFraction: targetFraction, targetGFLOPs: targetFraction * planner.costs[planner.costs.count - 1],
            realisedFraction: planner.meanFraction, realisedGFLOPs: planner.meanGFLOPs, windowSteps: planner.windowSteps,
            deadlineMs: planner.budget.deadlineMs, memoryMB: planner.budget.memoryMB, thresholds: planner.thresholds,
            exits: model.exits, loadedExits: model.policy.loadedExits, residentBytes: model.bundle.residentBytes, sessions: core.sessions.count,
            paused: core.paused, queued: core.queue.count, curveDenials: authenticator?.denialCount ?? 0, traceDropped: 0,
            model: model.bundle.manifest.name, modelSHA256: model.bundle.sha256)
    }

    /// Applies a budget live: thresholds from the next step on; a new memory cap reloads the
    /// model to the depth that fits (sessions keep their state: the head is the same).
    func applyBudget(_ budget: BudgetConfig) throws {
        logBudgetApplied(budget, loadedExits: try core.applyBudget(budget))
        config.budget = budget
    }

    func logBudgetApplied(_ budget: BudgetConfig, loadedExits: Int?) {
        if let loaded = loadedExits {
            log.notice("memory cap moved the last loaded exit", metadata: ["loaded_exits": "\(loaded)", "resident_bytes": "\(core.model.bundle.residentBytes)"])
        }
        log.notice("budget applied", metadata: ["budget": "\(budget)"])
    }
}
