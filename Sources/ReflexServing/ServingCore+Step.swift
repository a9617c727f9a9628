import ReflexEngine
import ReflexWire

/// Running the oldest queued step: the scheduler's plan, the engine, the reply and its
/// published copy, then the statistics.
extension ServingCore {
    /// Serves the oldest queued step; false when none is queued.
    @discardableResult
    package func serveNext() -> Bool {
        guard !queue.isEmpty else { return false }
        serve(queue.removeFirst())
        return true
    }

    func serve(_ p: PendingStep) {
        let h = p.request.header
        let robot = p.robot
        let start = clock.now()
        let deadlineMs = [h.deadlineMs, settings.budget.deadlineMs].compactMap { $0 }.min()
        let deadlineUs = deadlineMs.map { $0 * 1000 }
        var session = sessions.session(robot, now: start, makeState: model.policy.makeState)
        let tokens = session.tokens(for: h.instruction ?? "", tokenizer: model.policy.tokenizer, model: model.bundle.sha256)
        let cameraNames = model.policy.manifest.cameras.map(\.name)
        let images = cameraNames.compactMap { p.request.tensor(named: $0) }
        guard images.count == cameraNames.count, let state = p.request.tensor(named: "state") else {
            refuse(WireError(.badTensor, "every camera (\(cameraNames.joined(separator: ", "))) and state are required", robot: robot, seq: h.seq),
                   envelope: p.envelope)
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
            refuse(WireError(.internalError, "\(error)", robot: robot, seq: h.seq), envelope: p.envelope)
            return
        }
        let inferEnd = outcome.inferEnd
        let probe = outcome.probe
        let out = model.output
        guard out.action.allSatisfy(\.isFinite) else {
            // Never send a non-finite action; the recurrent state that produced it is dropped too.
            session.recurrent = model.policy.makeState()
            sessions.store(session)
            outbox.post(.nonFiniteAction(robot: robot, exit: out.exit))
            refuse(WireError(.internalError, "the model produced a non-finite action; the robot's state was reset", robot: robot, seq: h.seq),
                   envelope: p.envelope)
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
        outbox.post(.reply(ServingReply(envelope: p.envelope, header: header, action: actionBytes)))
        let totalUs = clock.microseconds(from: p.receipt, to: clock.now())
        planner.deadlineGuard.recordFinish(latencyUs: clock.microseconds(from: inferEnd, to: clock.now()))
        outbox.post(.publish(PublishedAction(robot: robot, header: header, action: actionBytes)))
        let missed = deadlineUs.map { totalUs > $0 } ?? false
        stats.recordStep(exit: out.exit, reason: outcome.reason.rawValue, totalUs: totalUs, missed: missed, probe: probe)
        outbox.post(.served(ServedStep(
            robot: robot, seq: h.seq, exit: out.exit, reason: outcome.reason, probe: probe,
            distances: out.distances[0..<out.exit], thresholds: outcome.thresholds.values, gflops: gflops,
            fraction: gflops / planner.costs[planner.costs.count - 1], targetFraction: planner.targetFraction,
            realisedFraction: planner.meanFraction, deadlineMs: deadlineMs, missed: missed,
            queueUs: Double(reply.timing.queue), inferUs: Double(reply.timing.infer), totalUs: totalUs)))
    }
}
