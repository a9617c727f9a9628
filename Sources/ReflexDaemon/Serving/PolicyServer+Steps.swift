import Foundation
import Logging
import ReflexEngine
import ReflexScheduler
import ReflexServing
import ReflexWire
import ZeroMQ

/// The policy socket: admission (session cap, latest wins), stepping under the budget, replies and PUB copies.
extension PolicyServer {
    // MARK: - Policy socket

    /// Takes every waiting request off the socket (bounded, so a flood cannot starve the engine).
    func drainPolicy() {
        for _ in 0..<1024 {
            guard let frames = (try? policySocket.tryReceiveMultipart()) ?? nil else { return }
            accept(frames, receipt: clock.now())
        }
    }

    func accept(_ frames: [ZMQMessage], receipt: UInt64) {
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
    func admits(_ robot: String) -> Bool {
        if sessions.contains(robot) || queue.contains(robot: robot) { return true }
        var queuedNew = Set<String>()
        for p in queue.items where !sessions.contains(p.robot) { queuedNew.insert(p.robot) }
        return sessions.count + queuedNew.count < sessions.maxSessions
    }

    var maxQueued: Int { max(1, config.limits.maxSessions * config.limits.pendingPerRobot) }

    /// Runs one step: the scheduler's plan, the engine, the reply and its published copy.
    func serve(_ p: PendingStep) {
        let h = p.request.header
        let robot = p.robot
        let start = clock.now()
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
                                         recurrent: &recurrent, receipt: p.receipt, start: start, deadlineUs: deadlineUs, clock: clock)
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
        let end = clock.now()
        reply.timing = StepTiming(queue: UInt64(clock.microseconds(from: p.receipt, to: start)),
                                  infer: UInt64(clock.microseconds(from: start, to: inferEnd)),
                                  total: UInt64(clock.microseconds(from: p.receipt, to: end)))
        let header = ReplyEncoder.action(reply)
        let actionBytes = out.action.withUnsafeBytes { Array($0) }
        sendReply(header, action: actionBytes, envelope: p.envelope)
        let totalUs = clock.microseconds(from: p.receipt, to: clock.now())
        planner.deadlineGuard.recordFinish(latencyUs: clock.microseconds(from: inferEnd, to: clock.now()))
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

    func sendReply(_ header: [UInt8], action: [UInt8]?, envelope: [ZMQMessage]) {
        do {
            var frames = envelope
            frames.append(try ZMQMessage(copying: header))
            if let action { frames.append(try ZMQMessage(copying: action)) }
            _ = try policySocket.trySend(frames)
        } catch {
            log.debug("reply not sent", metadata: ["error": "\(error)"])
        }
    }

    func reply(error: Error, envelope: [ZMQMessage]) {
        let e = (error as? WireError) ?? WireError(.internalError, "\(error)")
        stats.countError(e.code.rawValue)
        observability.recordError(code: e.code.rawValue)
        log.debug("request refused", metadata: ["code": "\(e.code.rawValue)", "robot": "\(e.robot ?? "-")", "message": "\(e.message)"])
        sendReply(ReplyEncoder.error(e), action: nil, envelope: envelope)
    }

    func publish(robot: String, header: [UInt8], action: [UInt8]) {
        do {
            _ = try actionsSocket.trySend([try ZMQMessage(robot), try ZMQMessage(copying: header), try ZMQMessage(copying: action)])
        } catch {
            log.debug("publish failed", metadata: ["error": "\(error)"])
        }
    }
}
