/// A socket option to set with `ZMQSocket.set(_:)`. Durations are milliseconds; -1 means
/// "forever" / "no limit" where libzmq allows it.
public enum ZMQSocketOption: Sendable, Equatable {
    /// How long unsent messages linger after close (0: drop them at once).
    case linger(milliseconds: Int)
    /// Largest inbound frame accepted; a peer sending a bigger one is disconnected. -1: none.
    case maxMessageSize(bytes: Int64)
    case sendHighWaterMark(messages: Int)
    case receiveHighWaterMark(messages: Int)
    /// Blocking receives fail with EAGAIN after this long.
    case receiveTimeout(milliseconds: Int)
    /// Blocking sends fail with EAGAIN after this long.
    case sendTimeout(milliseconds: Int)
    /// Queue messages only to completed connections.
    case immediate(Bool)
    /// A ROUTER fails with EHOSTUNREACH instead of dropping a message to an unknown peer.
    case routerMandatory(Bool)
    /// A ROUTER hands an identity over to a new connection that claims it (a robot that
    /// reconnects after a reboot while its old connection is still half-open) instead of
    /// ignoring the newcomer.
    case routerHandover(Bool)
    /// A connection that has not finished its ZMTP (and CURVE) handshake within this is closed.
    case handshakeInterval(milliseconds: Int)
    case heartbeatInterval(milliseconds: Int)
    case heartbeatTimeout(milliseconds: Int)
    case heartbeatTTL(milliseconds: Int)
    /// SUB: receive messages whose first frame starts with this prefix (empty: all).
    case subscribe(prefix: [UInt8])
    case unsubscribe(prefix: [UInt8])
    /// The identity a ROUTER peer sees for this socket (1–255 bytes, not starting with 0).
    case routingID([UInt8])
    /// Set on a server socket to make its handshakes go through ZAP.
    case zapDomain(String)
    case curveServer(Bool)
    /// CURVE keys as 40-character Z85 strings.
    case curvePublicKey(String)
    case curveSecretKey(String)
    case curveServerKey(String)

    /// SUB: subscribe to a UTF-8 prefix.
    public static func subscribe(_ prefix: String) -> ZMQSocketOption { .subscribe(prefix: Array(prefix.utf8)) }
    /// SUB: drop a UTF-8 prefix subscription.
    public static func unsubscribe(_ prefix: String) -> ZMQSocketOption { .unsubscribe(prefix: Array(prefix.utf8)) }
}
