import Foundation

/// A ZAP handler (ZeroMQ RFC 27) that admits or denies the clients of a context's server
/// sockets: a REP socket bound to `inproc://zeromq.zap.01`, served on its own thread.
///
/// Start it before any CURVE server socket of the same context binds, and stop it before
/// terminating the context. Admitted CURVE clients get their Z85 public key as "User-Id"
/// (see `ZMQMessage.property`). `@unchecked Sendable`: the sockets live on the handler
/// thread alone; the policy, the counters and the running state are behind a lock.
public final class ZAPAuthenticator: @unchecked Sendable {
    /// The ZAP endpoint libzmq asks (RFC 27).
    public static let endpoint = "inproc://zeromq.zap.01"

    /// One handshake to judge.
    public struct Request: Sendable, Equatable {
        public let domain: String
        /// The peer's IP address.
        public let address: String
        public let routingID: [UInt8]
        /// "NULL", "PLAIN" or "CURVE".
        public let mechanism: String
        /// The client's long-term public key in Z85; nil unless the mechanism is CURVE.
        public let clientPublicKey: String?
    }

    /// A refused handshake, reported to `onDenial`.
    public struct Denial: Sendable, Equatable {
        public let request: Request
        public let reason: String
    }

    private let context: ZMQContext
    private let onDenial: (@Sendable (Denial) -> Void)?
    private let lock = NSLock()
    private var admit: @Sendable (Request) throws -> Bool
    private var denials = 0
    private var admissions = 0
    private var finished: DispatchSemaphore?
    private var failureReason: String?

    /// - Parameters:
    ///   - admit: decides each handshake (true: 200, false: 400); runs on the handler thread.
    ///     When it throws, the handler answers 500 and fails (see `failure`).
    ///   - onDenial: told of each denial, on the handler thread (for logging).
    public init(
        context: ZMQContext,
        admit: @escaping @Sendable (Request) throws -> Bool,
        onDenial: (@Sendable (Denial) -> Void)? = nil
    ) {
        self.context = context
        self.admit = admit
        self.onDenial = onDenial
    }

    /// Admits CURVE clients whose public key (Z85) is in `allowedPublicKeys`; denies the rest.
    public convenience init(
        context: ZMQContext,
        allowedPublicKeys: Set<String>,
        onDenial: (@Sendable (Denial) -> Void)? = nil
    ) {
        self.init(context: context, admit: Self.curveKeyPolicy(allowedPublicKeys), onDenial: onDenial)
    }

    deinit { stop() }

    /// Replaces the policy with "CURVE clients whose key is in `keys`" (a reloaded key folder).
    public func setAllowedPublicKeys(_ keys: Set<String>) {
        setPolicy(Self.curveKeyPolicy(keys))
    }

    /// Replaces the policy; handshakes from now on use it.
    public func setPolicy(_ admit: @escaping @Sendable (Request) throws -> Bool) {
        lock.lock(); defer { lock.unlock() }
        self.admit = admit
    }

    /// Handshakes denied since the start.
    public var denialCount: Int {
        lock.lock(); defer { lock.unlock() }
        return denials
    }

    /// Handshakes admitted since the start.
    public var admissionCount: Int {
        lock.lock(); defer { lock.unlock() }
        return admissions
    }

    public var isRunning: Bool {
        lock.lock(); defer { lock.unlock() }
        return finished != nil
    }

    /// Why the handler stopped answering on its own (a socket error, or a policy that threw);
    /// nil while it serves. A failed handler stays bound to the ZAP endpoint without answering,
    /// so handshakes stall instead of being admitted: libzmq admits every CURVE client when no
    /// handler is bound (ZMQ_ZAP_ENFORCE_DOMAIN, which would refuse them, is a draft option that
    /// Debian's libzmq lacks). The owner should stop the service (and let systemd restart it).
    public var failure: String? {
        lock.lock(); defer { lock.unlock() }
        return failureReason
    }

    /// Binds the ZAP endpoint (so it is in place when this returns) and starts serving it.
    /// Throws EADDRINUSE when the context already has a ZAP handler.
    public func start() throws {
        lock.lock(); defer { lock.unlock() }
        guard finished == nil else { return }
        let handler = try context.socket(.rep)
        try handler.set(.linger(milliseconds: 0))
        try handler.bind(Self.endpoint)
        let wakeup = try context.socket(.pair)
        try wakeup.set(.linger(milliseconds: 0))
        try wakeup.bind(stopEndpoint)
        let done = DispatchSemaphore(value: 0)
        finished = done
        let thread = Thread { [self] in
            if let failure = serve(handler: handler, wakeup: wakeup) {
                lock.lock()
                failureReason = failure
                lock.unlock()
                // Stay bound and silent until stop(): handshakes stall rather than pass.
                _ = try? wakeup.receiveMultipart()
            }
            // Unbinding inproc is synchronous (closing is not): once stop() returns, the ZAP
            // endpoint is free for a new authenticator.
            try? handler.unbind(Self.endpoint)
            try? wakeup.unbind(stopEndpoint)
            handler.close()
            wakeup.close()
            done.signal()
        }
        thread.name = "zap-authenticator"
        thread.start()
    }

    /// Stops serving and waits for the handler thread to close its sockets and free the ZAP
    /// endpoint. Idempotent. Not from inside `admit` or `onDenial` (it would wait for itself).
    public func stop() {
        lock.lock()
        guard let done = finished else { lock.unlock(); return }
        finished = nil
        lock.unlock()
        // If the context is already shut down, the handler thread has seen ETERM and is leaving.
        let signal = try? context.socket(.pair)
        try? signal?.set(.linger(milliseconds: 0))
        try? signal?.connect(stopEndpoint)
        try? signal?.send([ZMQMessage()])
        done.wait()
        signal?.close()
    }

    private var stopEndpoint: String {
        "inproc://zeromq.zap.stop.\(UInt(bitPattern: ObjectIdentifier(self).hashValue))"
    }

    /// Answers handshakes until stop(); returns a failure reason when it stops on its own.
    private func serve(handler: ZMQSocket, wakeup: ZMQSocket) -> String? {
        let poller = ZMQPoller()
        do {
            let handlerIndex = try poller.add(handler)
            let wakeupIndex = try poller.add(wakeup)
            while true {
                let ready = try poller.poll(timeoutMs: -1)
                if ready[wakeupIndex].contains(.readable) { return nil }
                if ready[handlerIndex].contains(.readable), let frames = try handler.tryReceiveMultipart() {
                    let (answer, failure) = reply(to: frames.map(\.bytes))
                    try handler.send(answer)
                    if let failure { return failure }
                }
            }
        } catch let error as ZMQError where error.isContextTerminated {
            return nil  // the context is shutting down: nothing left to serve
        } catch {
            return "ZAP handler socket error: \(error)"
        }
    }

    /// RFC 27 reply frames for request frames (the REP envelope already removed), and a failure
    /// reason when the policy threw (the reply is then 500).
    private func reply(to frames: [[UInt8]]) -> ([[UInt8]], String?) {
        let requestID = frames.count > 1 ? frames[1] : []
        func answer(_ status: String, _ text: String, userID: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(userID.utf8), []]
        }
        func text(_ index: Int) -> String {
            frames.indices.contains(index) ? String(decoding: frames[index], as: UTF8.self) : ""
        }
        let mechanism = text(5)
        var clientKey: String?
        if mechanism == "CURVE", frames.count > 6, frames[6].count == 32 {
            clientKey = try? CurveKeyPair.z85Encode(frames[6])
        }
        let request = Request(
            domain: text(2), address: text(3), routingID: frames.count > 4 ? frames[4] : [],
            mechanism: mechanism, clientPublicKey: clientKey
        )
        guard frames.count >= 6, text(0) == "1.0" else {
            return (deny(request, reason: "malformed ZAP request", answer: answer), nil)
        }
        lock.lock()
        let policy = admit
        lock.unlock()
        let admitted: Bool
        do {
            admitted = try policy(request)
        } catch {
            return (answer("500", "internal error", userID: ""), "ZAP policy failed: \(error)")
        }
        guard admitted else {
            return (deny(request, reason: clientKey == nil ? "\(mechanism) client not allowed" : "unknown client key", answer: answer), nil)
        }
        lock.lock()
        admissions += 1
        lock.unlock()
        return (answer("200", "OK", userID: clientKey ?? ""), nil)
    }

    private func deny(_ request: Request, reason: String, answer: (String, String, String) -> [[UInt8]]) -> [[UInt8]] {
        lock.lock()
        denials += 1
        lock.unlock()
        onDenial?(Denial(request: request, reason: reason))
        return answer("400", reason, "")
    }

    private static func curveKeyPolicy(_ keys: Set<String>) -> @Sendable (Request) -> Bool {
        { request in request.mechanism == "CURVE" && request.clientPublicKey.map(keys.contains) == true }
    }
}
