import ZeroMQ

/// What a peer can make each socket hold, bounded (set before bind; see PolicyServer.init).
enum SocketLimits {
    /// A frame this far past `max_message_bytes` still arrives and is answered `too_large`;
    /// a larger one makes libzmq drop the connection before it is buffered.
    static let tooLargeMargin = 1 << 20
    /// Control commands are small JSON objects.
    static let controlMessageBytes: Int64 = 64 * 1024
    /// Subscriptions (the only inbound messages of the actions socket) are robot-id prefixes.
    static let subscriptionBytes: Int64 = 1024
    /// A connection silent for `heartbeatTimeoutMs` after a ping (a robot that lost power, a
    /// half-open TCP connection) is closed; one that has not finished its handshake within
    /// `handshakeMs` is closed too.
    static let heartbeatIntervalMs = 2_000
    static let heartbeatTimeoutMs = 10_000
    static let handshakeMs = 5_000

    static func options(for socket: String, limits: LimitsConfig) -> [ZMQSocketOption] {
        var options: [ZMQSocketOption] = [
            .linger(milliseconds: 0),
            .heartbeatInterval(milliseconds: heartbeatIntervalMs),
            .heartbeatTimeout(milliseconds: heartbeatTimeoutMs),
            .handshakeInterval(milliseconds: handshakeMs),
        ]
        switch socket {
        case "policy":
            // Queued requests beyond every robot's quota are useless (latest wins), so the
            // kernel-side queue is held to a small multiple of it.
            let queued = min(10_000, max(64, limits.maxSessions * limits.pendingPerRobot * 4))
            options += [
                .maxMessageSize(bytes: Int64(limits.maxMessageBytes) + Int64(tooLargeMargin)),
                .receiveHighWaterMark(messages: queued), .sendHighWaterMark(messages: queued),
                .routerHandover(true),
            ]
        case "control":
            options += [.maxMessageSize(bytes: controlMessageBytes), .receiveHighWaterMark(messages: 64)]
        default:
            options += [.maxMessageSize(bytes: subscriptionBytes)]
        }
        return options
    }
}
