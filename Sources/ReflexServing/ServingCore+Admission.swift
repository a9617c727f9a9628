import ReflexWire

/// The policy socket's requests: pings and resets are answered at once, steps are admitted to
/// the queue (the session cap, latest wins per robot, the queue's capacity) or refused.
extension ServingCore {
    /// Takes one message as the policy (ROUTER) socket received it: the routing envelope, the
    /// header, the tensor frames. Received now, by the core's clock.
    package func receive<Frames: RandomAccessCollection>(_ frames: Frames) where Frames.Element: WireFrame {
        let receipt = clock.now()
        guard let (envelope, body) = RoutingEnvelope.split(frames) else { return }  // no identity: nothing to answer
        let envelopeBytes = envelope.map { $0.withUnsafeBytes { Array($0) } }
        let request: WireRequest
        do {
            request = try model.decoder.decode(Array(body))
        } catch {
            refuse(error, envelope: envelopeBytes)
            return
        }
        admit(request, envelope: envelopeBytes, receipt: receipt)
    }

    /// A decoded request: answers a ping or a reset, queues a step or refuses it.
    package func admit(_ request: WireRequest, envelope: [[UInt8]], receipt: UInt64) {
        let h = request.header
        switch h.type {
        case .ping:
            let reply = ReplyEncoder.pong(robot: h.robot, seq: h.seq, model: model.bundle.manifest.name,
                                          modelSHA256: model.bundle.sha256, version: version, exits: model.exits,
                                          inputs: model.decoder.inputs)
            outbox.post(.reply(ServingReply(envelope: envelope, header: reply)))
        case .reset:
            sessions.reset(h.robot!)
            // A reset also voids the robot's queued steps: they belonged to the old episode.
            for p in queue.removeAll(robot: h.robot!) {
                refuse(WireError(.stale, "superseded by a reset", robot: p.robot, seq: p.request.header.seq), envelope: p.envelope)
            }
            outbox.post(.reply(ServingReply(envelope: envelope, header: ReplyEncoder.ok(robot: h.robot, seq: h.seq))))
        case .step:
            let robot = h.robot!
            if paused {
                refuse(WireError(.paused, "the operator paused the daemon; hold", robot: robot, seq: h.seq), envelope: envelope)
                return
            }
            guard admits(robot) else {
                refuse(WireError(.overloaded, "session limit reached (\(settings.maxSessions) robots)", robot: robot, seq: h.seq),
                       envelope: envelope)
                return
            }
            // Latest wins: past `pending_per_robot` queued steps, the oldest is answered `stale`.
            let step = PendingStep(envelope: envelope, request: request, receipt: receipt)
            switch queue.push(step, limit: settings.pendingPerRobot, capacity: maxQueued) {
            case .queued:
                break
            case .superseded(let old):
                refuse(WireError(.stale, "superseded by a newer request of the same robot", robot: robot, seq: old.request.header.seq),
                       envelope: old.envelope)
            case .full:
                refuse(WireError(.overloaded, "request queue full (\(maxQueued))", robot: robot, seq: h.seq), envelope: envelope)
            }
        }
    }

    /// Whether a step of `robot` may be queued under `maxSessions`: it has a session or a queued
    /// step already, or there is room for one more robot. New robots that are only queued count
    /// too (their sessions are made when served), so a burst of new robots cannot overshoot the cap.
    func admits(_ robot: String) -> Bool {
        if sessions.contains(robot) || queue.contains(robot: robot) { return true }
        var queuedNew = Set<String>()
        for p in queue.items where !sessions.contains(p.robot) { queuedNew.insert(p.robot) }
        return sessions.count + queuedNew.count < sessions.maxSessions
    }

    /// The queue's capacity: every robot's quota.
    package var maxQueued: Int { max(1, settings.maxSessions * settings.pendingPerRobot) }
}
