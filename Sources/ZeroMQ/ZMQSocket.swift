import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A libzmq socket.
///
/// libzmq sockets are not thread-safe: one thread at a time may use a socket. It is
/// `@unchecked Sendable` only so that it can be handed over to the thread that will own it
/// (creating a thread is the full memory barrier libzmq asks for); sharing it is a bug.
/// Blocking calls retry on EINTR and fail with ETERM once the context shuts down.
public final class ZMQSocket: @unchecked Sendable {
    /// The socket patterns this module supports.
    public enum Kind: Sendable, CaseIterable {
        case router, dealer, pub, sub, rep, req, pair, push, pull

        var rawValue: Int32 {
            switch self {
            case .router: ZMQ_ROUTER
            case .dealer: ZMQ_DEALER
            case .pub: ZMQ_PUB
            case .sub: ZMQ_SUB
            case .rep: ZMQ_REP
            case .req: ZMQ_REQ
            case .pair: ZMQ_PAIR
            case .push: ZMQ_PUSH
            case .pull: ZMQ_PULL
            }
        }
    }

    public let kind: Kind
    /// Kept so the context outlives its sockets.
    public let context: ZMQContext
    private var handle: UnsafeMutableRawPointer?

    public init(context: ZMQContext, kind: Kind) throws {
        guard let handle = zmq_socket(context.handle, kind.rawValue) else {
            throw ZMQError.last("zmq_socket(\(kind))")
        }
        self.kind = kind
        self.context = context
        self.handle = handle
    }

    deinit { close() }

    /// Closes the socket (pending messages linger as LINGER says). Idempotent.
    public func close() {
        if let handle {
            zmq_close(handle)
            self.handle = nil
        }
    }

    public var isClosed: Bool { handle == nil }

    func open(_ operation: @autoclosure () -> String) throws -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(code: ENOTSOCK, message: "socket is closed", operation: operation()) }
        return handle
    }

    // MARK: Endpoints

    /// Binds. An `ipc://PATH` another live socket listens on is refused with EADDRINUSE, as a
    /// taken tcp port is: libzmq itself unlinks the path and binds a new file there, which
    /// silently takes the endpoint from the process still serving it (a second daemon started
    /// by hand beside the service). A path nothing listens on (a file left by a crash) is bound.
    public func bind(_ endpoint: String) throws {
        let socket = try open("zmq_bind(\(endpoint))")
        if let path = endpoint.ipcFilesystemPath, unixSocketAccepts(path) {
            throw ZMQError(code: EADDRINUSE, message: "\(path) is in use: another process listens on it",
                           operation: "zmq_bind(\(endpoint))")
        }
        guard zmq_bind(socket, endpoint) == 0 else { throw ZMQError.last("zmq_bind(\(endpoint))") }
    }

    public func connect(_ endpoint: String) throws {
        let socket = try open("zmq_connect(\(endpoint))")
        guard zmq_connect(socket, endpoint) == 0 else { throw ZMQError.last("zmq_connect(\(endpoint))") }
    }

    /// Unbinds; for a wildcard bind pass the `lastEndpoint` it resolved to.
    public func unbind(_ endpoint: String) throws {
        let socket = try open("zmq_unbind(\(endpoint))")
        guard zmq_unbind(socket, endpoint) == 0 else { throw ZMQError.last("zmq_unbind(\(endpoint))") }
    }

    public func disconnect(_ endpoint: String) throws {
        let socket = try open("zmq_disconnect(\(endpoint))")
        guard zmq_disconnect(socket, endpoint) == 0 else { throw ZMQError.last("zmq_disconnect(\(endpoint))") }
    }

    // MARK: Options

    public func set(_ option: ZMQSocketOption) throws {
        switch option {
        case .linger(let ms): try setInt32(ZMQ_LINGER, ms, "ZMQ_LINGER")
        case .maxMessageSize(let bytes): try setRaw(ZMQ_MAXMSGSIZE, value: bytes, "ZMQ_MAXMSGSIZE")
        case .sendHighWaterMark(let n): try setInt32(ZMQ_SNDHWM, n, "ZMQ_SNDHWM")
        case .receiveHighWaterMark(let n): try setInt32(ZMQ_RCVHWM, n, "ZMQ_RCVHWM")
        case .receiveTimeout(let ms): try setInt32(ZMQ_RCVTIMEO, ms, "ZMQ_RCVTIMEO")
        case .sendTimeout(let ms): try setInt32(ZMQ_SNDTIMEO, ms, "ZMQ_SNDTIMEO")
        case .immediate(let on): try setInt32(ZMQ_IMMEDIATE, on ? 1 : 0, "ZMQ_IMMEDIATE")
        case .routerMandatory(let on): try setInt32(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
        case .routerHandover(let on): try setInt32(ZMQ_ROUTER_HANDOVER, on ? 1 : 0, "ZMQ_ROUTER_HANDOVER")
        case .handshakeInterval(let ms): try setInt32(ZMQ_HANDSHAKE_IVL, ms, "ZMQ_HANDSHAKE_IVL")
        case .heartbeatInterval(let ms): try setInt32(ZMQ_HEARTBEAT_IVL, ms, "ZMQ_HEARTBEAT_IVL")
        case .heartbeatTimeout(let ms): try setInt32(ZMQ_HEARTBEAT_TIMEOUT, ms, "ZMQ_HEARTBEAT_TIMEOUT")
        case .heartbeatTTL(let ms): try setInt32(ZMQ_HEARTBEAT_TTL, ms, "ZMQ_HEARTBEAT_TTL")
        case .subscribe(let prefix): try setBytes(ZMQ_SUBSCRIBE, prefix, "ZMQ_SUBSCRIBE")
        case .unsubscribe(let prefix): try setBytes(ZMQ_UNSUBSCRIBE, prefix, "ZMQ_UNSUBSCRIBE")
        case .routingID(let id): try setBytes(ZMQ_ROUTING_ID, id, "ZMQ_ROUTING_ID")
        case .zapDomain(let domain): try setBytes(ZMQ_ZAP_DOMAIN, Array(domain.utf8), "ZMQ_ZAP_DOMAIN")
        case .curveServer(let on): try setInt32(ZMQ_CURVE_SERVER, on ? 1 : 0, "ZMQ_CURVE_SERVER")
        case .curvePublicKey(let key): try setCurveKey(ZMQ_CURVE_PUBLICKEY, key, "ZMQ_CURVE_PUBLICKEY")
        case .curveSecretKey(let key): try setCurveKey(ZMQ_CURVE_SECRETKEY, key, "ZMQ_CURVE_SECRETKEY")
        case .curveServerKey(let key): try setCurveKey(ZMQ_CURVE_SERVERKEY, key, "ZMQ_CURVE_SERVERKEY")
        }
    }

    /// The endpoint of the last bind or connect, with a wildcard port resolved
    /// (`tcp://127.0.0.1:*` → `tcp://127.0.0.1:41234`).
    public var lastEndpoint: String {
        get throws {
            let bytes = try getBytes(ZMQ_LAST_ENDPOINT, capacity: 1024, "ZMQ_LAST_ENDPOINT")
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    public var routingID: [UInt8] { get throws { try getBytes(ZMQ_ROUTING_ID, capacity: 256, "ZMQ_ROUTING_ID") } }
    public var linger: Int { get throws { Int(try getInt32(ZMQ_LINGER, "ZMQ_LINGER")) } }
    public var receiveTimeout: Int { get throws { Int(try getInt32(ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO")) } }
    public var sendTimeout: Int { get throws { Int(try getInt32(ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO")) } }
    public var maxMessageSize: Int64 {
        get throws { try getRaw(ZMQ_MAXMSGSIZE, initial: Int64(0), "ZMQ_MAXMSGSIZE") }
    }

    /// ZMQ_FD: a file descriptor that becomes readable when `events` may have changed
    /// (edge-triggered; always re-check `events`). For an external event loop.
    public var fileDescriptor: Int32 {
        get throws { Int32(try getRaw(ZMQ_FD, initial: zmq_fd_t(0), "ZMQ_FD")) }
    }

    /// ZMQ_EVENTS: whether a message can be received or sent without blocking now.
    public var events: ZMQPoller.Events {
        get throws { ZMQPoller.Events(rawValue: Int16(truncatingIfNeeded: try getInt32(ZMQ_EVENTS, "ZMQ_EVENTS"))) }
    }

    private func setInt32(_ name: Int32, _ value: Int, _ label: String) throws {
        guard let narrow = Int32(exactly: value) else {
            throw ZMQError.invalidArgument("\(value) does not fit the option", operation: "zmq_setsockopt(\(label))")
        }
        try setRaw(name, value: narrow, label)
    }

    private func setRaw<T: BitwiseCopyable>(_ name: Int32, value: T, _ label: String) throws {
        let socket = try open("zmq_setsockopt(\(label))")
        let result = withUnsafeBytes(of: value) { zmq_setsockopt(socket, name, $0.baseAddress, $0.count) }
        guard result == 0 else {
            throw ZMQError.last("zmq_setsockopt(\(label))")
        }
    }

    private func setBytes(_ name: Int32, _ bytes: [UInt8], _ label: String) throws {
        let socket = try open("zmq_setsockopt(\(label))")
        let result = bytes.withUnsafeBytes { zmq_setsockopt(socket, name, $0.baseAddress, $0.count) }
        guard result == 0 else { throw ZMQError.last("zmq_setsockopt(\(label))") }
    }

    private func setCurveKey(_ name: Int32, _ key: String, _ label: String) throws {
        guard CurveKeyPair.isValidKey(key) else {
            throw ZMQError.invalidArgument("not a 40-character Z85 CURVE key", operation: "zmq_setsockopt(\(label))")
        }
        try setBytes(name, Array(key.utf8) + [0], label)
    }

    private func getInt32(_ name: Int32, _ label: String) throws -> Int32 {
        try getRaw(name, initial: Int32(0), label)
    }

    private func getRaw<T: BitwiseCopyable>(_ name: Int32, initial: T, _ label: String) throws -> T {
        let socket = try open("zmq_getsockopt(\(label))")
        var value = initial
        var size = MemoryLayout<T>.size
        let result = withUnsafeMutableBytes(of: &value) { zmq_getsockopt(socket, name, $0.baseAddress, &size) }
        guard result == 0 else { throw ZMQError.last("zmq_getsockopt(\(label))") }
        return value
    }

    private func getBytes(_ name: Int32, capacity: Int, _ label: String) throws -> [UInt8] {
        let socket = try open("zmq_getsockopt(\(label))")
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        let result = buffer.withUnsafeMutableBytes { zmq_getsockopt(socket, name, $0.baseAddress, &size) }
        guard result == 0 else { throw ZMQError.last("zmq_getsockopt(\(label))") }
        return Array(buffer.prefix(size))
    }

    // MARK: Sending

    /// Sends `frames` as one multipart message, blocking while the queue is full (up to
    /// SNDTIMEO, then EAGAIN). Frames are not consumed and may be sent again.
    public func send(_ frames: [ZMQMessage]) throws {
        _ = try send(frames, wait: true)
    }

    /// Sends `frames` as one message unless that would block; false then (nothing was sent).
    public func trySend(_ frames: [ZMQMessage]) throws -> Bool {
        try send(frames, wait: false)
    }

    /// Sends byte frames as one message (one copy of each).
    public func send(_ frames: [[UInt8]]) throws {
        try send(frames.map { try ZMQMessage(copying: $0) })
    }

    /// Sends UTF-8 text frames as one message.
    public func send(_ frames: [String]) throws {
        try send(frames.map { try ZMQMessage($0) })
    }

    private func send(_ frames: [ZMQMessage], wait: Bool) throws -> Bool {
        let socket = try open("zmq_msg_send")
        guard !frames.isEmpty else {
            throw ZMQError.invalidArgument("a message needs at least one frame", operation: "zmq_msg_send")
        }
        for (index, frame) in frames.enumerated() {
            let last = index == frames.count - 1
            var flags: Int32 = last ? 0 : ZMQ_SNDMORE
            // Later parts of a message are always accepted once its first part was.
            if !wait && index == 0 { flags |= ZMQ_DONTWAIT }
            let message = try frame.makeSendableCopy()
            defer {
                zmq_msg_close(message)
                ZMQMessage.deallocateMessage(message)
            }
            while zmq_msg_send(message, socket, flags) < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                if code == EAGAIN && !wait && index == 0 { return false }
                throw ZMQError(code: code, operation: "zmq_msg_send(frame \(index) of \(frames.count))")
            }
        }
        return true
    }

    // MARK: Receiving

    /// Receives one whole multipart message, blocking until one arrives. With RCVTIMEO set,
    /// throws a `ZMQError` whose `isWouldBlock` is true when the time runs out.
    public func receiveMultipart() throws -> [ZMQMessage] {
        guard let frames = try receiveMultipart(wait: true) else {
            throw ZMQError(code: EAGAIN, operation: "zmq_msg_recv")
        }
        return frames
    }

    /// Receives one whole multipart message if one is waiting; nil otherwise.
    public func tryReceiveMultipart() throws -> [ZMQMessage]? {
        try receiveMultipart(wait: false)
    }

    private func receiveMultipart(wait: Bool) throws -> [ZMQMessage]? {
        let socket = try open("zmq_msg_recv")
        var frames: [ZMQMessage] = []
        while true {
            let message = ZMQMessage.allocateMessage()
            zmq_msg_init(message)
            // Later parts of a message are already here once its first part arrived.
            let flags: Int32 = (!wait && frames.isEmpty) ? ZMQ_DONTWAIT : 0
            while zmq_msg_recv(message, socket, flags) < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                zmq_msg_close(message)
                ZMQMessage.deallocateMessage(message)
                if code == EAGAIN && frames.isEmpty { return nil }
                throw ZMQError(code: code, operation: "zmq_msg_recv")
            }
            let more = zmq_msg_more(message) != 0
            frames.append(ZMQMessage(adopting: message))
            if !more { return frames }
        }
    }

    var rawHandle: UnsafeMutableRawPointer? { handle }
}

extension String {
    /// The file path of an `ipc://PATH` endpoint; nil for other transports and for Linux's
    /// abstract namespace (`ipc://@name`), where the kernel itself refuses a second bind.
    public var ipcFilesystemPath: String? {
        guard hasPrefix("ipc://") else { return nil }
        let path = String(dropFirst("ipc://".count))
        return path.isEmpty || path.hasPrefix("@") || path == "*" ? nil : path
    }
}

/// Whether a Unix stream socket at `path` accepts a connection (someone listens there).
func unixSocketAccepts(_ path: String) -> Bool {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    #if canImport(Darwin)
    let fd = socket(AF_UNIX, SOCK_STREAM, 0)
    #else
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    #endif
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    return connected == 0
}
