import Foundation
import Logging
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
            let before = core.queue.count
            drainPolicy()
            if core.queue.count != before { quietUntil = clock.now() + grace }
            if core.serveNext() { continue }
            let ready = (try? poller.poll(timeoutMs: 10)) ?? []
            if ready.count > 2, ready[1].contains(.readable) { drainControl() }
            if ready.count > 2, ready[2].contains(.readable) { _ = signals.drain() }
        }
        // What is still queued is served until the deadline and refused after it.
        core.drainQueue(deadline: deadline)
        authenticator?.stop()
        // Replies still queued in libzmq get a moment to reach their clients (linger was 0).
        for s in [policySocket, actionsSocket] { try? s.set(.linger(milliseconds: 250)) }
        for s in [policySocket, actionsSocket, controlSocket] { s.close() }
        context.terminate()
        // libzmq (4.3 here) leaves a closed listener's ipc socket file behind; remove ours, so
        // that a folder of sockets shows only live daemons. Only socket files: a path replaced
        // by something else since the bind is not ours to delete.
        for endpoint in boundEndpoints.values {
            guard let path = endpoint.ipcFilesystemPath,
                  (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeSocket
            else { continue }
            try? FileManager.default.removeItem(atPath: path)
        }
        observability.close()
        log.info("stopped", metadata: ["steps": "\(core.stats.steps)"])
    }
}
