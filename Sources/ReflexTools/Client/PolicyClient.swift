import Foundation
import ReflexDaemon
import ReflexWire
import ZeroMQ

/// A DEALER client of the policy socket, for the `reflex` CLI and the transport benchmark.
public final class PolicyClient {
    public struct Reply {
        public let header: WireJSON
        public let headerBytes: [UInt8]
        public let frames: [[UInt8]]
        public var type: String? { if case .object(let o) = header, case .string(let t)? = o["type"] { return t }; return nil }
    }

    public struct ClientError: Error, CustomStringConvertible {
        public let description: String
    }

    private let context: ZMQContext
    private let socket: ZMQSocket
    private var seq: UInt64 = 0
    private let endpoint: String

    public init(endpoint: String, timeoutMs: Int = 5000, curve: ClientCurveKeys? = nil) throws {
        self.endpoint = endpoint
        context = try ZMQContext()
        socket = try context.socket(.dealer)
        try socket.set(.linger(milliseconds: 0))
        try socket.set(.receiveTimeout(milliseconds: timeoutMs))
        try curve?.apply(to: socket)
        try socket.connect(endpoint)
    }

    deinit { socket.close(); context.terminate() }

    /// Sends one request (header fields + tensor frames) and waits for the reply with its seq.
    public func request(_ fields: [String: Any], tensors: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])] = []) throws -> Reply {
        seq += 1
        var header = fields
        header["v"] = 1
        header["seq"] = seq
        if !tensors.isEmpty { header["tensors"] = tensors.map { ["name": $0.name, "dtype": $0.dtype, "shape": $0.shape] as [String: Any] } }
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        try send([Array(json)] + tensors.map(\.bytes))
        while true {
            let frames: [ZMQMessage]
            do { frames = try socket.receiveMultipart() } catch let e as ZMQError where e.isWouldBlock {
                throw ClientError(description: "no reply from the daemon at \(endpoint) (timed out)")
            }
            let body = frames.first?.isEmpty == true ? Array(frames.dropFirst()) : frames
            guard let first = body.first else { continue }
            let bytes = first.bytes
            let parsed = try WireJSON.parse(bytes)
            if case .object(let o) = parsed, case .number(let n)? = o["seq"], n.uint64 != seq { continue }  // an old reply
            return Reply(header: parsed, headerBytes: bytes, frames: body.dropFirst().map(\.bytes))
        }
    }

    /// Raw frames, for the benchmark (an empty delimiter first, as a REQ would).
    public func send(_ frames: [[UInt8]]) throws {
        try socket.send([[]] + frames)
    }

    public func receiveRaw() throws -> [ZMQMessage] { try socket.receiveMultipart() }
}

/// A REQ client of the control socket (a new socket per command: no lockstep after a timeout).
public enum ControlRequest {
    public static func send(_ command: [String: Any], endpoint: String, timeoutMs: Int = 5000, curve: ClientCurveKeys? = nil) throws -> [String: Any] {
        let context = try ZMQContext()
        let socket = try context.socket(.req)
        defer { socket.close(); context.terminate() }
        try socket.set(.linger(milliseconds: 0))
        try socket.set(.receiveTimeout(milliseconds: timeoutMs))
        try curve?.apply(to: socket)
        try socket.connect(endpoint)
        try socket.send([Array(try JSONSerialization.data(withJSONObject: command))])
        let reply: [ZMQMessage]
        do { reply = try socket.receiveMultipart() } catch let e as ZMQError where e.isWouldBlock {
            throw PolicyClient.ClientError(description: "no reply from the control socket at \(endpoint) (timed out)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(reply.first?.bytes ?? [])) as? [String: Any] else {
            throw PolicyClient.ClientError(description: "the control socket answered something that is not a JSON object")
        }
        if let e = obj["error"] { throw PolicyClient.ClientError(description: "daemon: \(e)") }
        return obj
    }
}

/// CURVE keys of a client: the server's public key and the client's own pair (files or Z85).
public struct ClientCurveKeys {
    public let serverPublic: String
    public let pair: CurveKeyPair

    public init(serverPublic: String, clientSecret: String) throws {
        func key(_ s: String) throws -> String { CurveKeyPair.isValidKey(s) ? s : try KeyFile.read(s, secret: false) }
        self.serverPublic = try key(serverPublic)
        pair = try CurveKeyPair(secretKey: CurveKeyPair.isValidKey(clientSecret) ? clientSecret : try KeyFile.read(clientSecret, secret: true))
    }

    func apply(to socket: ZMQSocket) throws {
        try socket.set(.curveServerKey(serverPublic))
        try socket.set(.curvePublicKey(pair.publicKey))
        try socket.set(.curveSecretKey(pair.secretKey))
    }
}
