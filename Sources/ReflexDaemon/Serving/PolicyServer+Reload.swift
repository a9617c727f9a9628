import Logging
import ReflexServing

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
            // The model, the budget and the session limits; nothing changes when it throws.
            let running = config.budget
            if case .budgetApplied(let loaded) = try core.reload(to: next.serving) {
                if next.budget != running {
                    // A live `budget` command lasts until the next reload: the file wins.
                    log.notice("reload replaces the running budget with the file's", metadata: [
                        "running": "\(running)", "file": "\(next.budget)"])
                }
                logBudgetApplied(next.budget, loadedExits: loaded)
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
            authenticator.setPolicy(CurveAccess.policy(keys, log: log, directory: keyDirectory))
            CurveAccess.logLoaded(keys, log: log)
        }
        log.notice("config reloaded", metadata: ["reason": "\(reason)", "file": "\(file)"])
        return true
    }
}
