import CZeroMQ
import Foundation

/// One frame of a ZeroMQ message, owning a `zmq_msg_t`.
///
/// Received frames expose libzmq's own buffer through `withUnsafeBytes`: tensor bytes are
/// never copied on the way in. The buffer may sit at any address, so read multi-byte values
/// with `loadUnaligned` (or copy them). Ways to build a frame to send, and their copies:
/// - `init(count:initializingWith:)`: none, the caller writes into libzmq's buffer;
/// - `init(noCopy:deallocator:)`: none, libzmq takes the caller's buffer (`zmq_msg_init_data`);
/// - `init(copying:)` from `[UInt8]`, `Data` or a raw buffer, and `init(_ string:)`: one memcpy.
///
/// A frame is immutable once built. Sending hands libzmq a `zmq_msg_copy` (a reference count
/// for frames above 33 bytes, not a byte copy), so a frame may be sent more than once.
/// `@unchecked Sendable` for that reason: nothing mutates it after `init`, and libzmq's
/// reference counts are atomic, so a received frame may be handed to another thread.
public final class ZMQMessage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<zmq_msg_t>

    /// An empty frame (the routing delimiter of REQ/REP and DEALER/ROUTER envelopes).
    public init() {
        pointer = Self.allocateMessage()
        zmq_msg_init(pointer)
    }

    /// A frame of `count` bytes filled in place by `body`: zero copies.
    public init(count: Int, initializingWith body: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        pointer = try Self.allocateMessage(count: count)
        try body(UnsafeMutableRawBufferPointer(start: zmq_msg_data(pointer), count: count))
    }

    /// A frame holding a copy of `bytes` (`[UInt8]`, `Data`, a raw buffer...): one memcpy.
    public init(copying bytes: some ContiguousBytes) throws {
        pointer = try bytes.withUnsafeBytes { source in
            let pointer = try Self.allocateMessage(count: source.count)
            if let base = source.baseAddress, source.count > 0 {
                zmq_msg_data(pointer).copyMemory(from: base, byteCount: source.count)
            }
            return pointer
        }
    }

    /// A frame holding the UTF-8 bytes of `string`.
    public convenience init(_ string: String) throws {
        try self.init(copying: Array(string.utf8))
    }

    /// A frame that uses `buffer` itself (`zmq_msg_init_data`): zero copies. libzmq calls
    /// `deallocator` exactly once, possibly on one of its I/O threads, when the last copy of
    /// the frame is released (after it was sent, if it was). Until then `buffer` must stay
    /// valid and unchanged. If this throws, `buffer` still belongs to the caller.
    public init(
        noCopy buffer: UnsafeMutableRawBufferPointer,
        deallocator: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Void
    ) throws {
        let pointer = Self.allocateMessage()
        let box = Unmanaged.passRetained(BufferRelease(buffer: buffer, deallocator: deallocator))
        let freeFunction: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, hint in
            guard let hint else { return }
            Unmanaged<BufferRelease>.fromOpaque(hint).takeRetainedValue().run()
        }
        guard zmq_msg_init_data(pointer, buffer.baseAddress, buffer.count, freeFunction, box.toOpaque()) == 0 else {
            let error = ZMQError.last("zmq_msg_init_data(\(buffer.count))")
            box.release()
            Self.deallocateMessage(pointer)
            throw error
        }
        self.pointer = pointer
    }

    /// Takes over a message libzmq just filled (receive path).
    init(adopting pointer: UnsafeMutablePointer<zmq_msg_t>) {
        self.pointer = pointer
    }

    deinit {
        zmq_msg_close(pointer)
        Self.deallocateMessage(pointer)
    }

    /// Size of the frame in bytes.
    public var count: Int { zmq_msg_size(pointer) }
    public var isEmpty: Bool { count == 0 }

    /// Reads the frame's bytes in place; the pointer must not escape `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(pointer), count: count))
    }

    /// A copy of the bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The bytes as UTF-8 text, or nil when they are not valid UTF-8.
    public var string: String? {
        withUnsafeBytes { String(bytes: $0, encoding: .utf8) }
    }

    /// A metadata property of a received frame (`zmq_msg_gets`): "Peer-Address", "User-Id"
    /// (the client key's Z85 when admitted by `ZAPAuthenticator`), "Socket-Type", "Routing-Id".
    public func property(_ name: String) -> String? {
        guard let value = zmq_msg_gets(pointer, name) else { return nil }
        return String(cString: value)
    }

    /// A fresh `zmq_msg_t` sharing this frame's content, for `zmq_msg_send` to consume.
    func makeSendableCopy() throws -> UnsafeMutablePointer<zmq_msg_t> {
        let copy = Self.allocateMessage()
        zmq_msg_init(copy)
        guard zmq_msg_copy(copy, pointer) == 0 else {
            let error = ZMQError.last("zmq_msg_copy")
            zmq_msg_close(copy)
            Self.deallocateMessage(copy)
            throw error
        }
        return copy
    }

    static func allocateMessage() -> UnsafeMutablePointer<zmq_msg_t> {
        UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<zmq_msg_t>.size,
            alignment: max(MemoryLayout<zmq_msg_t>.alignment, MemoryLayout<UnsafeRawPointer>.alignment)
        ).bindMemory(to: zmq_msg_t.self, capacity: 1)
    }

    /// An initialised message of `count` bytes (uninitialised contents).
    private static func allocateMessage(count: Int) throws -> UnsafeMutablePointer<zmq_msg_t> {
        guard count >= 0 else {
            throw ZMQError.invalidArgument("negative frame size \(count)", operation: "zmq_msg_init_size")
        }
        let pointer = allocateMessage()
        guard zmq_msg_init_size(pointer, count) == 0 else {
            let error = ZMQError.last("zmq_msg_init_size(\(count))")
            deallocateMessage(pointer)
            throw error
        }
        return pointer
    }

    static func deallocateMessage(_ pointer: UnsafeMutablePointer<zmq_msg_t>) {
        UnsafeMutableRawPointer(pointer).deallocate()
    }
}

/// What `zmq_msg_init_data`'s free function runs: the caller's deallocator for its buffer.
private final class BufferRelease: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    let deallocator: @Sendable (UnsafeMutableRawBufferPointer) -> Void

    init(buffer: UnsafeMutableRawBufferPointer, deallocator: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Void) {
        self.buffer = buffer
        self.deallocator = deallocator
    }

    func run() { deallocator(buffer) }
}
