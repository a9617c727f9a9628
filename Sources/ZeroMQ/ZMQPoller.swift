import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits on several sockets (and plain file descriptors) at once with `zmq_poll`.
///
/// Used on the one thread that owns its sockets, so it is not `Sendable`.
public final class ZMQPoller {
    /// Readiness to ask for, or that was found.
    public struct Events: OptionSet, Sendable, Hashable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }

        /// A whole message can be received without blocking.
        public static let readable = Events(rawValue: Int16(ZMQ_POLLIN))
        /// A message can be sent without blocking.
        public static let writable = Events(rawValue: Int16(ZMQ_POLLOUT))
        /// An error condition on a plain file descriptor.
        public static let error = Events(rawValue: Int16(ZMQ_POLLERR))
    }

    private var items: [zmq_pollitem_t] = []
    private var sockets: [ZMQSocket?] = []

    public init() {}

    /// Adds a socket; returns its index in the result of `poll`. The poller keeps it alive.
    @discardableResult
    public func add(_ socket: ZMQSocket, events: Events = .readable) throws -> Int {
        let handle = try socket.open("zmq_poll")
        items.append(zmq_pollitem_t(socket: handle, fd: 0, events: events.rawValue, revents: 0))
        sockets.append(socket)
        return items.count - 1
    }

    /// Adds a plain file descriptor (a pipe, an eventfd); returns its index.
    @discardableResult
    public func add(fileDescriptor: Int32, events: Events = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: zmq_fd_t(fileDescriptor), events: events.rawValue, revents: 0))
        sockets.append(nil)
        return items.count - 1
    }

    /// Changes what is asked of the item at `index` (empty: ignore it for now).
    public func setEvents(_ events: Events, at index: Int) {
        guard items.indices.contains(index) else { return }
        items[index].events = events.rawValue
    }

    public var count: Int { items.count }

    /// Waits until at least one item is ready or `timeoutMs` passes (0: just look;
    /// -1: forever). Returns the ready events of every item, in the order added; all empty
    /// on timeout. An interrupted wait (EINTR) returns all empty too.
    public func poll(timeoutMs: Int) throws -> [Events] {
        for socket in sockets {
            if let socket, socket.isClosed {
                throw ZMQError(code: ENOTSOCK, message: "a polled socket is closed", operation: "zmq_poll")
            }
        }
        let result = items.withUnsafeMutableBufferPointer { buffer in
            zmq_poll(buffer.baseAddress, Int32(buffer.count), timeoutMs)
        }
        if result < 0 {
            let code = zmq_errno()
            if code == EINTR { return Array(repeating: [], count: items.count) }
            throw ZMQError(code: code, operation: "zmq_poll")
        }
        return items.map { Events(rawValue: $0.revents) }
    }
}
