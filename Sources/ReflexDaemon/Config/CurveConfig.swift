/// The `security.curve` section: CurveZMQ encryption and client authentication.
public struct CurveConfig: Sendable, Equatable {
    /// When true, all three sockets use CURVE. Default false (loopback-only use).
    public var enabled: Bool
    /// Absolute path of the file holding the server's Z85 secret key (`reflexctl keygen`).
    /// Required when enabled; no default, because a guessed key location hides mistakes.
    public var serverSecretKey: String?
    /// Absolute path of the directory of allowed clients' `*.public` files. Required when enabled.
    public var authorizedKeys: String?
    /// Absolute path of the directory of operators' `*.public` files: the only keys the control
    /// socket admits (a robot key gets nothing there). Required when enabled.
    public var operatorKeys: String?

    public init(enabled: Bool = false, serverSecretKey: String? = nil, authorizedKeys: String? = nil, operatorKeys: String? = nil) {
        self.enabled = enabled
        self.serverSecretKey = serverSecretKey
        self.authorizedKeys = authorizedKeys
        self.operatorKeys = operatorKeys
    }
}
