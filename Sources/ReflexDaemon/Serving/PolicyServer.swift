import Foundation
import Logging
import ReflexEngine
import ReflexScheduler
import ReflexServing
import ZeroMQ

/// The serving loop of `reflexd` (CONTRACT sections 5–7): one thread owns the three sockets and
/// the engine. Each turn it drains the policy socket (pings, resets and errors are answered at
/// once; steps queue, latest wins per robot), answers control commands, then runs the oldest
/// queued step. Signals arrive as bytes on a pipe the poller watches.
public final class PolicyServer {
    let log: Logger
    var config: DaemonConfig
    let context: ZMQContext
    let policySocket, actionsSocket, controlSocket: ZMQSocket
    let authenticator: ZAPAuthenticator?
    let signals: SignalMonitor
    let notifier: SystemdNotifier
    let clock = MonotonicClock()
    var model: LoadedModel
    var planner: BudgetPlanner
    var sessions: SessionTable
    var stats: ServingStats
    let observability: ServingObservability
    var queue = LatestWinsQueue<PendingStep>(robotOf: \.robot)
    var paused = false
    var stopping = false
    var lastWatchdog: UInt64 = 0
    var lastHousekeeping: UInt64 = 0
    /// The endpoints actually bound (with `*` ports resolved), for logs and tests.
    public private(set) var boundEndpoints: [String: String] = [:]

    public init(config: DaemonConfig, logger: Logger, signals: SignalMonitor, notifier: SystemdNotifier) throws {
        self.config = config
        log = logger
        self.signals = signals
        self.notifier = notifier
        let probe = try LoadedModel(directory: config.model, upToExit: nil, maxMessageBytes: config.limits.maxMessageBytes, threads: config.engine.threads)
        planner = try BudgetPlanner(cost: probe.policy.cost, calibration: probe.bundle.calibration,
                                    budget: config.budget, scheduler: config.scheduler)
        let loaded = planner.loadedExits
        model = loaded == probe.exits ? probe
            : try LoadedModel(directory: config.model, upToExit: loaded, maxMessageBytes: config.limits.maxMessageBytes, threads: config.engine.threads)
        sessions = SessionTable(maxSessions: config.limits.maxSessions, idleSeconds: config.limits.sessionIdleS)
        stats = ServingStats(exits: model.exits)

        context = try ZMQContext()
        var curve: CurveServerKeys?
        if config.security.curve.enabled {
            let keys = try CurveServerKeys(config.security.curve)
            curve = keys
            authenticator = ZAPAuthenticator(context: context, admit: CurveAccess.policy(keys, log: logger)) { denial in
                CurveAccess.logDenial(denial, log: logger)
            }
            CurveAccess.logLoaded(keys, log: logger)
            try authenticator!.start()
        } else {
            authenticator = nil
        }
        policySocket = try context.socket(.router)
        actionsSocket = try context.socket(.pub)
        controlSocket = try context.socket(.rep)
        // Every option is set before bind: libzmq applies MAXMSGSIZE, the high-water marks and
        // the heartbeats only to connections accepted by binds made after they are set (a
        // 256 MiB frame was once received whole because the cut-off came after bind).
        for (name, socket, endpoint) in [("policy", policySocket, config.endpoints.policy),
                                         ("actions", actionsSocket, config.endpoints.actions),
                                         ("control", controlSocket, config.endpoints.control)] {
            for option in SocketLimits.options(for: name, limits: config.limits) { try socket.set(option) }
            if let curve {
                try socket.set(.zapDomain(name == "control" ? CurveAccess.controlDomain : CurveAccess.robotDomain))
                try socket.set(.curveServer(true))
                try socket.set(.curveSecretKey(curve.server.secretKey))
            }
            try socket.bind(endpoint)
            boundEndpoints[name] = (try? socket.lastEndpoint) ?? endpoint
        }
        observability = try ServingObservability(config: config, exits: model.exits, log: logger)
    }

    // MARK: - The loop

    /// Serves until SIGTERM/SIGINT; then answers what is queued and returns.
    public func run() throws {
        let poller = ZMQPoller()
        _ = try poller.add(policySocket)
        _ = try poller.add(controlSocket)
        _ = poller.add(fileDescriptor: signals.fd)
        log.info("serving", metadata: [
            "model": "\(model.bundle.manifest.name)", "sha256": "\(model.bundle.sha256.prefix(12))",
            "exits": "\(model.exits)", "loaded_exits": "\(model.policy.loadedExits)",
            "policy": "\(boundEndpoints["policy"]!)", "actions": "\(boundEndpoints["actions"]!)",
            "control": "\(boundEndpoints["control"]!)", "curve": "\(authenticator != nil)",
        ])
        notifier.ready(status: statusLine)
        let watchdogMs = notifier.watchdogInterval.map { Int($0 * 1000) } ?? 1000
        while !stopping {
            let timeout = queue.isEmpty ? min(watchdogMs, 250) : 0
            let ready = try poller.poll(timeoutMs: timeout)
            if ready[2].contains(.readable) { handleSignals() }
            if ready[0].contains(.readable) || !queue.isEmpty { drainPolicy() }
            if ready[1].contains(.readable) { drainControl() }
            if !queue.isEmpty { serve(queue.removeFirst()) }
            try housekeeping()
        }
        shutdown(poller: poller)
    }

    func handleSignals() {
        for event in signals.drain() {
            switch event {
            case .stop:
                if !stopping { log.info("stop signal: answering what is queued, then exiting") }
                stopping = true
            case .reload:
                reload(reason: "SIGHUP")
            }
        }
    }

    func housekeeping() throws {
        if let failure = authenticator?.failure {
            // Fail closed: without a ZAP handler libzmq would admit any key. systemd restarts us.
            log.critical("CURVE authentication stopped; exiting", metadata: ["reason": "\(failure)"])
            throw DaemonError(.authentication, "CURVE authentication stopped: \(failure)")
        }
        let now = clock.now()
        if let interval = notifier.watchdogInterval, Double(now &- lastWatchdog) / 1e9 >= interval * 0.5 {
            notifier.watchdog()
            lastWatchdog = now
        }
        if now &- lastHousekeeping > 1_000_000_000 {
            lastHousekeeping = now
            for robot in sessions.evictIdle(now: now) {
                log.info("session idle, dropped", metadata: ["robot": "\(robot)"])
                observability.removeRobot(robot)
            }
            notifier.status(statusLine)
        }
        observability.refresh(now: now) { servingSnapshot }
    }

    var statusLine: String {
        "serving \(model.bundle.manifest.name): \(stats.steps) steps, \(sessions.count) sessions\(paused ? ", paused" : "")"
    }
}
