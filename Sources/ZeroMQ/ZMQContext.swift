import CZeroMQ
import Foundation

/// Owns one libzmq context: the I/O threads and the inproc namespace its sockets share.
///
/// `@unchecked Sendable` because libzmq contexts are thread-safe; the only Swift state,
/// the terminated flag, is behind a lock. Sockets keep their context alive, so a context
/// released by everyone terminates without blocking once its last socket is gone.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var terminated = false

    /// - Parameter ioThreads: libzmq background I/O threads (1 is plenty below ~1 GB/s).
    public init(ioThreads: Int = 1) throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
        if ioThreads != 1, zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: ioThreads)) != 0 {
            let error = ZMQError.last("zmq_ctx_set(ZMQ_IO_THREADS)")
            zmq_ctx_term(handle)
            throw error
        }
    }

    deinit {
        if !terminated { Self.term(handle) }
    }

    /// A new socket of this context.
    public func socket(_ kind: ZMQSocket.Kind) throws -> ZMQSocket {
        try ZMQSocket(context: self, kind: kind)
    }

    /// Makes every blocking call on this context's sockets, now and later, fail with ETERM,
    /// so their threads can close them. Does not wait. Safe from any thread.
    public func shutdown() {
        lock.lock(); defer { lock.unlock() }
        if !terminated { zmq_ctx_shutdown(handle) }
    }

    /// Shuts the context down and waits until every one of its sockets is closed (each
    /// socket's LINGER applies). Idempotent; never call it from a thread that still owns an
    /// open socket of this context, or it waits forever.
    public func terminate() {
        lock.lock()
        if terminated { lock.unlock(); return }
        terminated = true
        lock.unlock()
        Self.term(handle)
    }

    private static func term(_ handle: UnsafeMutableRawPointer) {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
