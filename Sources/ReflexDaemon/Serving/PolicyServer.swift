import Foundation
import Logging
import ReflexServing
import ZeroMQ

/// The serving loop of `reflexd` (CONTRACT sections 5–7): one thread owns the three sockets and
/// the serving core (which owns the engine). Each turn it hands the core what the policy socket
/// received (pings, resets and errors are answered at once; steps queue, latest wins per robot),
/// answers control commands, then has the core run the oldest queued step. Signals arrive as
/// bytes on a pipe the poller watches.
public final class PolicyServer {
    let log: Logger
    var config: DaemonConfig
    let context: ZMQContext
    let policySocket, actionsSocket, controlSocket: ZMQSocket
    let authenticator: ZAPAuthenticator?
    /// Who the admitted keys are, for the denial log (KeyDirectory, CurveAccess).
    let keyDirectory = KeyDirectory()
    let signals: SignalMonitor
    let notifier: SystemdNotifier
    let clock: MonotonicClock
    /// Sessions, the queue, the model and its budget: what is decided, without the sockets.
    let core: ServingCore
    let observability: ServingObservability
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
        let clock = MonotonicClock()
        self.clock = clock
        let (model, planner) = try ServingCore.loadModel(config.serving)

        context = try ZMQContext()
        var curve: CurveServerKeys?
        if config.security.curve.enabled {
            let keys = try CurveServerKeys(config.security.curve)
            curve = keys
            let directory = keyDirectory
            authenticator = ZAPAuthenticator(context: context, admit: CurveAccess.policy(keys, log: logger, directory: directory)) { denial in
                CurveAccess.logDenial(denial, log: logger, directory: directory)
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
        let outbox = DaemonOutbox(policySocket: policySocket, actionsSocket: actionsSocket, observability: observability, log: logger)
        core = ServingCore(settings: config.serving, model: model, planner: planner, clock: clock,
                           version: ReflexVersion.string, outbox: outbox)
    }

    // MARK: - The loop

    /// Serves until SIGTERM/SIGINT; then answers what is queued and returns.
    public func run() throws {
        let poller = ZMQPoller()
        _ = try poller.add(policySocket)
        _ = try poller.add(controlSocket)
        _ = poller.add(fileDescriptor: signals.fd)
        let model = core.model
        log.info("serving", metadata: [
            "model": "\(model.bundle.manifest.name)", "sha256": "\(model.bundle.sha256.prefix(12))",
            "exits": "\(model.exits)", "loaded_exits": "\(model.policy.loadedExits)",
            "policy": "\(boundEndpoints["policy"]!)", "actions": "\(boundEndpoints["actions"]!)",
            "control": "\(boundEndpoints["control"]!)", "curve": "\(authenticator != nil)",
        ])
        notifier.ready(status: statusLine)
        let watchdogMs = notifier.watchdogInterval.map { Int($0 * 1000) } ?? 1000
        while !stopping {
            let timeout = core.queue.isEmpty ? min(watchdogMs, 250) : 0
            let ready = try poller.poll(timeoutMs: timeout)
            if ready[2].contains(.readable) { handleSignals() }
            if ready[0].contains(.readable) || !core.queue.isEmpty { drainPolicy() }
            if ready[1].contains(.readable) { drainControl() }
            core.serveNext()
            try housekeeping()
        }
        shutdown(poller: poller)
    }

    /// Hands every waiting request to the core (bounded, so a flood cannot starve the engine).
    func drainPolicy() {
        for _ in 0..<1024 {
            guard let frames = (try? policySocket.tryReceiveMultipart()) ?? nil else { return }
            core.receive(frames)
        }
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
            for robot in core.evictIdleSessions() {
                log.info("session idle, dropped", metadata: ["robot": "\(robot)"])
                observability.removeRobot(robot)
            }
            notifier.status(statusLine)
        }
        observability.refresh(now: now) { servingSnapshot }
    }

    var statusLine: String {
        "serving \(core.model.bundle.manifest.name): \(core.stats.steps) steps, \(core.sessions.count) sessions\(core.paused ? ", paused" : "")"
    }
}
