import Foundation
import Logging
import ReflexEngine
import ReflexScheduler
import ReflexServing
import ReflexWire
import ZeroMQ

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
            paused = true
            log.notice("paused by the operator: steps are answered 'paused'")
            return ControlReply.json(["paused": true])
        case "resume":
            paused = false
            log.notice("resumed by the operator")
            return ControlReply.json(["paused": false])
        default:
            return ControlReply.error("unknown command '\(cmd)' (stats, budget, reload, pause, resume)")
        }
    }

    var budgetReply: ControlReply.Budget {
        let average: BudgetAverage
        switch planner.budget.average {
        case .fraction(let f): average = .fraction(f)
        case .gflops(let g): average = .gflops(g)
        }
        return ControlReply.Budget(average: average, deadlineMs: planner.budget.deadlineMs, memoryMB: planner.budget.memoryMB)
    }

    var statsReply: ControlReply.Stats {
        ControlReply.Stats(
            steps: stats.steps, errors: stats.errors, exitHistogram: stats.exitHistogram, windowSteps: planner.windowSteps,
            meanGflops: planner.meanGFLOPs, meanFraction: planner.meanFraction, latencyUs: stats.latencySummary,
            deadlineMisses: stats.deadlineMisses, probes: stats.probes, reasons: stats.reasons, thresholds: planner.thresholds,
            budget: budgetReply, loadedExits: model.policy.loadedExits, residentModelBytes: model.bundle.residentBytes,
            sessions: sessions.count, paused: paused, scheduler: config.scheduler.mode == .online ? "online" : "fixed",
            model: model.bundle.manifest.name, modelSHA256: model.bundle.sha256, curveDenied: authenticator?.denialCount,
            robots: observability.robots.statsReply, metricsListen: observability.metricsAddress,
            trace: observability.tracing ? ControlReply.Trace(written: observability.traceWritten, dropped: observability.traceDropped) : nil)
    }

    /// The average target as a fraction of the full-depth cost (whichever way the budget says it).
    var targetFraction: Double {
        switch planner.budget.average {
        case .fraction(let f): return f
        case .gflops(let g): return g / planner.costs[planner.costs.count - 1]
        }
    }

    /// What the metrics' gauges show (ServingObservability.refresh).
    var servingSnapshot: ServingSnapshot {
        ServingSnapshot(
            targetFraction: targetFraction, targetGFLOPs: targetFraction * planner.costs[planner.costs.count - 1],
            realisedFraction: planner.meanFraction, realisedGFLOPs: planner.meanGFLOPs, windowSteps: planner.windowSteps,
            deadlineMs: planner.budget.deadlineMs, memoryMB: planner.budget.memoryMB, thresholds: planner.thresholds,
            exits: model.exits, loadedExits: model.policy.loadedExits, residentBytes: model.bundle.residentBytes, sessions: sessions.count,
            paused: paused, queued: queue.count, curveDenials: authenticator?.denialCount ?? 0, traceDropped: 0,
            model: model.bundle.manifest.name, modelSHA256: model.bundle.sha256)
    }

    /// Applies a budget live: thresholds from the next step on; a new memory cap reloads the
    /// model to the depth that fits (sessions keep their state: the head is the same).
    func applyBudget(_ budget: BudgetConfig) throws {
        var p = planner
        let loaded = try p.apply(budget)
        if loaded != model.policy.loadedExits {
            model = try LoadedModel(directory: config.model, upToExit: loaded, maxMessageBytes: config.limits.maxMessageBytes, threads: config.engine.threads)
            log.notice("memory cap moved the last loaded exit", metadata: ["loaded_exits": "\(loaded)", "resident_bytes": "\(model.bundle.residentBytes)"])
        }
        planner = p
        config.budget = budget
        log.notice("budget applied", metadata: ["budget": "\(budget)"])
    }

    /// Re-reads the config file; an invalid one is rejected and the running config stays.
}
