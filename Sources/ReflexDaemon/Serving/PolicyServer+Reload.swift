import Foundation
import Logging
import ReflexEngine
import ReflexScheduler
import ReflexServing
import ZeroMQ

/// Reload (SIGHUP, `{"cmd":"reload"}`): an invalid file changes nothing; keys are read again.
extension PolicyServer {
    @discardableResult
    func reload(reason: String) -> Bool {
        guard let file = config.file else { return false }
        notifier.reloading()
        defer { notifier.status(statusLine); notifier.send("READY=1") }
        let next: DaemonConfig
        do {
            next = try ConfigLoader.load(path: file, checkFiles: true)
        } catch {
            log.error("reload rejected, keeping the running config", metadata: ["reason": "\(reason)", "problems": "\(error)"])
            return false
        }
        if next.endpoints != config.endpoints || next.security.curve.enabled != config.security.curve.enabled
            || next.security.curve.serverSecretKey != config.security.curve.serverSecretKey {
            log.warning("endpoint, CURVE on/off and server key changes take effect at the next restart")
        }
        // Key folders are read again on every reload: a removed key is refused from the next
        // handshake on (connections already admitted stay until they reconnect).
        var reloadedKeys: CurveServerKeys?
        if authenticator != nil, next.security.curve.enabled {
            do {
                reloadedKeys = try CurveServerKeys(next.security.curve)
            } catch {
                log.error("reload rejected, keeping the running config", metadata: ["reason": "\(reason)", "error": "\(error)"])
                return false
            }
        }
        if next.metrics != config.metrics || next.trace != config.trace {
            log.warning("metrics and trace changes take effect at the next restart")
        }
        do {
            if next.model != config.model || next.scheduler != config.scheduler || next.engine != config.engine
                || next.limits.maxMessageBytes != config.limits.maxMessageBytes {
                let full = try LoadedModel(directory: next.model, upToExit: nil, maxMessageBytes: next.limits.maxMessageBytes, threads: next.engine.threads)
                var p = try BudgetPlanner(cost: full.policy.cost, calibration: full.bundle.calibration, budget: next.budget, scheduler: next.scheduler)
                let loaded = p.loadedExits
                let m = loaded == full.exits ? full : try LoadedModel(directory: next.model, upToExit: loaded, maxMessageBytes: next.limits.maxMessageBytes, threads: next.engine.threads)
                p.deadlineGuard = next.model == config.model ? planner.deadlineGuard : p.deadlineGuard
                if m.bundle.sha256 != model.bundle.sha256 {
                    sessions.resetAll(makeState: m.policy.makeState)
                    stats = ServingStats(exits: m.exits)
                }
                model = m
                planner = p
            } else {
                try applyBudget(next.budget)
            }
        } catch {
            log.error("reload rejected, keeping the running config", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return false
        }
        let endpoints = config.endpoints, curve = config.security.curve
        let metrics = config.metrics, trace = config.trace
        config = next
        config.endpoints = endpoints
        config.security.curve.enabled = curve.enabled
        config.security.curve.serverSecretKey = curve.serverSecretKey
        config.metrics = metrics
        config.trace = trace
        if let authenticator, let keys = reloadedKeys {
            authenticator.setPolicy(CurveAccess.policy(keys, log: log))
            CurveAccess.logLoaded(keys, log: log)
        }
        sessions.maxSessions = next.limits.maxSessions
        sessions.idleNanoseconds = UInt64(next.limits.sessionIdleS * 1e9)
        log.notice("config reloaded", metadata: ["reason": "\(reason)", "file": "\(file)"])
        return true
    }
}
