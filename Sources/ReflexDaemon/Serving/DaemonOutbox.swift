import Foundation
import Logging
import ReflexServing
import ZeroMQ

/// Where the serving core's output goes in `reflexd`: replies on the policy socket, copies on
/// the actions socket, and the metrics, trace and log lines each event calls for.
final class DaemonOutbox: ServingOutbox {
    let policySocket, actionsSocket: ZMQSocket
    let observability: ServingObservability
    let log: Logger

    init(policySocket: ZMQSocket, actionsSocket: ZMQSocket, observability: ServingObservability, log: Logger) {
        self.policySocket = policySocket
        self.actionsSocket = actionsSocket
        self.observability = observability
        self.log = log
    }

    func post(_ event: ServingEvent) {
        switch event {
        case .reply(let reply):
            if let e = reply.refusal {
                observability.recordError(code: e.code.rawValue)
                log.debug("request refused", metadata: ["code": "\(e.code.rawValue)", "robot": "\(e.robot ?? "-")", "message": "\(e.message)"])
            }
            send(reply)
        case .publish(let copy):
            publish(copy)
        case .served(let s):
            observability.recordStep(
                robot: s.robot, exit: s.exit, reason: s.reason, probe: s.probe, missed: s.missed,
                queueUs: s.queueUs, inferUs: s.inferUs, totalUs: s.totalUs,
                trace: StepTraceRecord(
                    time: Date().timeIntervalSince1970, robot: s.robot, seq: s.seq, exit: s.exit, reason: s.reason, probe: s.probe,
                    distances: Array(s.distances), thresholds: s.thresholds, gflops: s.gflops, fraction: s.fraction,
                    targetFraction: s.targetFraction, realisedFraction: s.realisedFraction, deadlineMs: s.deadlineMs, missed: s.missed,
                    queueUs: s.queueUs, inferUs: s.inferUs, totalUs: s.totalUs))
        case .nonFiniteAction(let robot, let exit):
            log.error("model produced a non-finite action", metadata: ["robot": "\(robot)", "exit": "\(exit)"])
        }
    }

    private func send(_ reply: ServingReply) {
        do {
            var frames = try reply.envelope.map { try ZMQMessage(copying: $0) }
            frames.append(try ZMQMessage(copying: reply.header))
            if let action = reply.action { frames.append(try ZMQMessage(copying: action)) }
            _ = try policySocket.trySend(frames)
        } catch {
            log.debug("reply not sent", metadata: ["error": "\(error)"])
        }
    }

    private func publish(_ copy: PublishedAction) {
        do {
            _ = try actionsSocket.trySend([try ZMQMessage(copy.robot), try ZMQMessage(copying: copy.header), try ZMQMessage(copying: copy.action)])
        } catch {
            log.debug("publish failed", metadata: ["error": "\(error)"])
        }
    }
}
