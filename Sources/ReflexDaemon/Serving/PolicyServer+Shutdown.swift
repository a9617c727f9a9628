import Foundation
import Logging
import ReflexEngine
import ReflexScheduler
import ReflexServing
import ReflexWire
import ZeroMQ

/// Shutdown (SIGTERM/SIGINT): answer what is in flight within the deadline, then close.
extension PolicyServer {
    func shutdown(poller: ZMQPoller) {
        notifier.stopping()
        let deadline = clock.now() + 1_500_000_000
        // Requests sent before the signal may still be on their way (in the kernel or in
        // libzmq's I/O thread): they are in flight too. Keep answering until the policy socket
        // has been quiet for 50 ms, within the deadline.
        let grace: UInt64 = 50_000_000
        var quietUntil = clock.now() + grace
        while clock.now() < min(quietUntil, deadline) {
            let before = queue.count
            drainPolicy()
            if queue.count != before { quietUntil = clock.now() + grace }
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
            if clock.now() < deadline { serve(p) } else {
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
}
