import Foundation
import ReflexWire
import Logging
import ReflexEngine
import ReflexScheduler
import ZeroMQ

/// The serving loop of `reflexd` (CONTRACT sections 5–7): one thread owns the three sockets and
/// the engine. Each turn it drains the policy socket (pings, resets and errors are answered at
/// once; steps queue, latest wins per robot), answers control commands, then runs the oldest
/// queued step. Signals arrive as bytes on a pipe the poller watches.
public final class PolicyServer {
    let log: Logger
    private(set) var config: DaemonConfig
    private let context: ZMQContext
    private let policySocket, actionsSocket, controlSocket: ZMQSocket
    private let authenticator: ZAPAuthenticator?
    private let signals: SignalMonitor
    private let notifier: SystemdNotifier
    private var model: LoadedModel
    private var planner: BudgetPlanner
    private var sessions: SessionTable
    private var stats: ServingStats
    private let observability: ServingObservability
    private var queue = LatestWinsQueue<PendingStep>(robotOf: \.robot)
    private var paused = false
    private var stopping = false
    private var lastWatchdog: UInt64 = 0
    private var lastHousekeeping: UInt64 = 0
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

    private func handleSignals() {
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

    private func housekeeping() throws {
        if let failure = authenticator?.failure {
            // Fail closed: without a ZAP handler libzmq would admit any key. systemd restarts us.
            log.critical("CURVE authentication stopped; exiting", metadata: ["reason": "\(failure)"])
            throw DaemonError(.authentication, "CURVE authentication stopped: \(failure)")
        }
        let now = MonotonicClock.now()
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

    private var statusLine: String {
        "serving \(model.bundle.manifest.name): \(stats.steps) steps, \(sessions.count) sessions\(paused ? ", paused" : "")"
    }

    private func shutdown(poller: ZMQPoller) {
        notifier.stopping()
        let deadline = MonotonicClock.now() + 1_500_000_000
        // Requests sent before the signal may still be on their way (in the kernel or in
        // libzmq's I/O thread): they are in flight too. Keep answering until the policy socket
        // has been quiet for 50 ms, within the deadline.
        let grace: UInt64 = 50_000_000
        var quietUntil = MonotonicClock.now() + grace
        while MonotonicClock.now() < min(quietUntil, deadline) {
            let before = queue.count
            drainPolicy()
            if queue.count != before { quietUntil = MonotonicClock.now() + grace }
            if !queue.isEmpty {
                serve(queue.removeFirst())
                continue
            }
            let ready = (try? poller.poll(timeoutMs: 10)) ?? []
            if ready.count > 2, ready[1].contains(.readable) { drainControl() }
            if ready.count > 2, ready[2].contains(.readable) { _ = signals.drain() }
        }
        while !queue.isEmpty {
            let p = queue.removeFirst()
            if MonotonicClock.now() < deadline { serve(p) } else {
                reply(error: WireError(.overloaded, "the daemon is stopping", robot: p.request.header.robot, seq: p.request.header.seq), envelope: p.envelope)
            }
        }
        authenticator?.stop()
        // Replies still queued in libzmq get a moment to reach their clients (linger was 0).
        for s in [policySocket, actionsSocket] { try? s.set(.linger(milliseconds: 250)) }
        for s in [policySocket, actionsSocket, controlSocket] { s.close() }
        context.terminate()
        observability.close()
        log.info("stopped", metadata: ["steps": "\(stats.steps)"])
    }

    // MARK: - Policy socket

    /// Takes every waiting request off the socket (bounded, so a flood cannot starve the engine).
    private func drainPolicy() {
        for _ in 0..<1024 {
            guard let frames = (try? policySocket.tryReceiveMultipart()) ?? nil else { return }
            accept(frames, receipt: MonotonicClock.now())
        }
    }

    private func accept(_ frames: [ZMQMessage], receipt: UInt64) {
        guard let (envelope, body) = RoutingEnvelope.split(frames) else { return }  // no identity: nothing to answer
        let envelopeFrames = Array(envelope)
        let request: WireRequest
        do {
            request = try model.decoder.decode(Array(body))
        } catch {
            reply(error: error, envelope: envelopeFrames)
            return
        }
        let h = request.header
        switch h.type {
        case .ping:
            sendReply(ReplyEncoder.pong(robot: h.robot, seq: h.seq, model: model.bundle.manifest.name,
                                        modelSHA256: model.bundle.sha256, version: ReflexVersion.string, exits: model.exits,
                                        inputs: model.decoder.inputs),
                      action: nil, envelope: envelopeFrames)
        case .reset:
            sessions.reset(h.robot!)
            // A reset also voids the robot's queued steps: they belonged to the old episode.
            for p in queue.removeAll(robot: h.robot!) {
                reply(error: WireError(.stale, "superseded by a reset", robot: p.robot, seq: p.request.header.seq), envelope: p.envelope)
            }
            sendReply(ReplyEncoder.ok(robot: h.robot, seq: h.seq), action: nil, envelope: envelopeFrames)
        case .step:
            let robot = h.robot!
            if paused {
                reply(error: WireError(.paused, "the operator paused the daemon; hold", robot: robot, seq: h.seq), envelope: envelopeFrames)
                return
            }
            guard admits(robot) else {
                reply(error: WireError(.overloaded, "session limit reached (\(config.limits.maxSessions) robots)", robot: robot, seq: h.seq), envelope: envelopeFrames)
                return
            }
            // Latest wins: past `pending_per_robot` queued steps, the oldest is answered `stale`.
            let step = PendingStep(envelope: envelopeFrames, request: request, receipt: receipt)
            switch queue.push(step, limit: config.limits.pendingPerRobot, capacity: maxQueued) {
            case .queued:
                break
            case .superseded(let old):
                reply(error: WireError(.stale, "superseded by a newer request of the same robot", robot: robot, seq: old.request.header.seq), envelope: old.envelope)
            case .full:
                reply(error: WireError(.overloaded, "request queue full (\(maxQueued))", robot: robot, seq: h.seq), envelope: envelopeFrames)
            }
        }
    }

    /// Whether a step of `robot` may be queued under `limits.max_sessions`: it has a session or
    /// a queued step already, or there is room for one more robot. New robots that are only
    /// queued count too (their sessions are made when served), so a burst of new robots cannot
    /// overshoot the cap.
    private func admits(_ robot: String) -> Bool {
        if sessions.contains(robot) || queue.contains(robot: robot) { return true }
        var queuedNew = Set<String>()
        for p in queue.items where !sessions.contains(p.robot) { queuedNew.insert(p.robot) }
        return sessions.count + queuedNew.count < sessions.maxSessions
    }

    private var maxQueued: Int { max(1, config.limits.maxSessions * config.limits.pendingPerRobot) }

    /// Runs one step: the scheduler's plan, the engine, the reply and its published copy.
    private func serve(_ p: PendingStep) {
        let h = p.request.header
        let robot = p.robot
        let start = MonotonicClock.now()
        let deadlineMs = [h.deadlineMs, config.budget.deadlineMs].compactMap { $0 }.min()
        let deadlineUs = deadlineMs.map { $0 * 1000 }
        var session = sessions.session(robot, now: start, makeState: model.policy.makeState)
        let tokens = session.tokens(for: h.instruction ?? "", tokenizer: model.policy.tokenizer, model: model.bundle.sha256)
        let cameraNames = model.policy.manifest.cameras.map(\.name)
        let images = cameraNames.compactMap { p.request.tensor(named: $0) }
        guard images.count == cameraNames.count, let state = p.request.tensor(named: "state") else {
            reply(error: WireError(.badTensor, "every camera (\(cameraNames.joined(separator: ", "))) and state are required", robot: robot, seq: h.seq), envelope: p.envelope)
            return
        }
        var recurrent = session.recurrent
        let outcome: BudgetedStep.Outcome
        do {
            outcome = try FrameBytes.withUnsafeBytes(of: images.map(\.frame)) { imgs in
                try state.frame.withUnsafeBytes { st in
                    try BudgetedStep.run(model: model, planner: &planner, observation: Observation(images: imgs, state: st, words: tokens.ids),
                                         recurrent: &recurrent, receipt: p.receipt, start: start, deadlineUs: deadlineUs)
                }
            }
        } catch {
            reply(error: WireError(.internalError, "\(error)", robot: robot, seq: h.seq), envelope: p.envelope)
            return
        }
        let inferEnd = outcome.inferEnd
        let probe = outcome.probe
        let out = model.output
        guard out.action.allSatisfy(\.isFinite) else {
            // Never send a non-finite action; the recurrent state that produced it is dropped too.
            session.recurrent = model.policy.makeState()
            sessions.store(session)
            log.error("model produced a non-finite action", metadata: ["robot": "\(robot)", "exit": "\(out.exit)"])
            reply(error: WireError(.internalError, "the model produced a non-finite action; the robot's state was reset", robot: robot, seq: h.seq), envelope: p.envelope)
            return
        }
        session.recurrent = recurrent
        session.lastSeen = inferEnd
        session.lastSeq = h.seq
        session.steps += 1
        sessions.store(session)
        let gflops = Double(out.flops) / 1e9

        var reply = ActionReply(robot: robot, seq: h.seq, exit: out.exit, exits: model.exits, reason: outcome.reason, gflops: gflops,
                                timing: StepTiming(queue: 0, infer: 0, total: 0), actionShape: model.policy.actionShape,
                                periodS: model.policy.manifest.chunk > 1 ? model.policy.manifest.action.periodS : nil,
                                unknownWords: tokens.unknownWords)
        let end = MonotonicClock.now()
        reply.timing = StepTiming(queue: UInt64(MonotonicClock.microseconds(from: p.receipt, to: start)),
                                  infer: UInt64(MonotonicClock.microseconds(from: start, to: inferEnd)),
                                  total: UInt64(MonotonicClock.microseconds(from: p.receipt, to: end)))
        let header = ReplyEncoder.action(reply)
        let actionBytes = out.action.withUnsafeBytes { Array($0) }
        sendReply(header, action: actionBytes, envelope: p.envelope)
        let totalUs = MonotonicClock.microseconds(from: p.receipt, to: MonotonicClock.now())
        planner.deadlineGuard.recordFinish(latencyUs: MonotonicClock.microseconds(from: inferEnd, to: MonotonicClock.now()))
        publish(robot: robot, header: header, action: actionBytes)
        let missed = deadlineUs.map { totalUs > $0 } ?? false
        stats.recordStep(exit: out.exit, reason: outcome.reason.rawValue, totalUs: totalUs, missed: missed, probe: probe)
        observability.recordStep(
            robot: robot, exit: out.exit, reason: outcome.reason, probe: probe, missed: missed,
            queueUs: Double(reply.timing.queue), inferUs: Double(reply.timing.infer), totalUs: totalUs,
            trace: StepTraceRecord(
                time: Date().timeIntervalSince1970, robot: robot, seq: h.seq, exit: out.exit, reason: outcome.reason, probe: probe,
                distances: Array(out.distances[0..<out.exit]), thresholds: outcome.thresholds.values, gflops: gflops,
                fraction: gflops / planner.costs[planner.costs.count - 1], targetFraction: targetFraction,
                realisedFraction: planner.meanFraction, deadlineMs: deadlineMs, missed: missed,
                queueUs: Double(reply.timing.queue), inferUs: Double(reply.timing.infer), totalUs: totalUs))
    }

    private func sendReply(_ header: [UInt8], action: [UInt8]?, envelope: [ZMQMessage]) {
        do {
            var frames = envelope
            frames.append(try ZMQMessage(copying: header))
            if let action { frames.append(try ZMQMessage(copying: action)) }
            _ = try policySocket.trySend(frames)
        } catch {
            log.debug("reply not sent", metadata: ["error": "\(error)"])
        }
    }

    private func reply(error: Error, envelope: [ZMQMessage]) {
        let e = (error as? WireError) ?? WireError(.internalError, "\(error)")
        stats.countError(e.code.rawValue)
        observability.recordError(code: e.code.rawValue)
        log.debug("request refused", metadata: ["code": "\(e.code.rawValue)", "robot": "\(e.robot ?? "-")", "message": "\(e.message)"])
        sendReply(ReplyEncoder.error(e), action: nil, envelope: envelope)
    }

    private func publish(robot: String, header: [UInt8], action: [UInt8]) {
        do {
            _ = try actionsSocket.trySend([try ZMQMessage(robot), try ZMQMessage(copying: header), try ZMQMessage(copying: action)])
        } catch {
            log.debug("publish failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Control socket

    private func drainControl() {
        for _ in 0..<64 {
            guard let frames = (try? controlSocket.tryReceiveMultipart()) ?? nil else { return }
            let answer = control(frames.first.map { $0.bytes } ?? [])
            // Gauges first, so that a scrape after the answer sees what the command did.
            observability.refresh(now: MonotonicClock.now(), force: true) { servingSnapshot }
            _ = try? controlSocket.send([answer])
        }
    }

    private func control(_ bytes: [UInt8]) -> String {
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

    private var budgetReply: ControlReply.Budget {
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
    private var targetFraction: Double {
        switch planner.budget.average {
        case .fraction(let f): return f
        case .gflops(let g): return g / planner.costs[planner.costs.count - 1]
        }
    }

    /// What the metrics' gauges show (ServingObservability.refresh).
    private var servingSnapshot: ServingSnapshot {
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
    private func applyBudget(_ budget: BudgetConfig) throws {
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
    @discardableResult
    private func reload(reason: String) -> Bool {
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
