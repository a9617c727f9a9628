import Foundation
import ZeroMQ

/// Socket set-ups shared by the tests. Every socket gets LINGER 0 and a generous RCVTIMEO,
/// so a broken test fails with EAGAIN instead of hanging; no test asserts on time.
enum SocketPairs {
    static let safetyTimeoutMs = 10_000

    static func socket(_ context: ZMQContext, _ kind: ZMQSocket.Kind, _ options: [ZMQSocketOption] = []) throws -> ZMQSocket {
        let socket = try context.socket(kind)
        try socket.set(.linger(milliseconds: 0))
        try socket.set(.receiveTimeout(milliseconds: safetyTimeoutMs))
        for option in options { try socket.set(option) }
        return socket
    }

    /// A socket bound to a free loopback TCP port, and the endpoint it resolved to.
    static func bound(_ context: ZMQContext, _ kind: ZMQSocket.Kind, _ options: [ZMQSocketOption] = []) throws -> (ZMQSocket, String) {
        let socket = try socket(context, kind, options)
        try socket.bind("tcp://127.0.0.1:*")
        return (socket, try socket.lastEndpoint)
    }

    static func connected(_ context: ZMQContext, _ kind: ZMQSocket.Kind, to endpoint: String, _ options: [ZMQSocketOption] = []) throws -> ZMQSocket {
        let socket = try socket(context, kind, options)
        try socket.connect(endpoint)
        return socket
    }
}

extension Array where Element == ZMQMessage {
    /// The frames as UTF-8 text, for readable expectations.
    var strings: [String] { map { $0.string ?? "<\($0.count) bytes>" } }
}

/// Collects values handed over from another thread.
final class Inbox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value] = []
    private let arrived = DispatchSemaphore(value: 0)

    func put(_ value: Value) {
        lock.lock(); values.append(value); lock.unlock()
        arrived.signal()
    }

    /// Waits for one more value (a safety limit only: a test that gets nothing fails).
    func waitForOne(seconds: Double = 10) -> Bool {
        arrived.wait(timeout: .now() + seconds) == .success
    }

    var all: [Value] {
        lock.lock(); defer { lock.unlock() }
        return values
    }
}
