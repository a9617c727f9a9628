/// The `endpoints` section: where the three sockets bind. ZeroMQ endpoint strings
/// (`tcp://HOST:PORT`, `ipc://PATH`, `inproc://NAME`); relative ipc paths are already
/// resolved against the config file's folder. Defaults are the shipped loopback ports.
public struct EndpointsConfig: Sendable, Equatable {
    /// ROUTER, request/reply.
    public var policy: String
    /// PUB, every action published.
    public var actions: String
    /// REP, operator commands. Must be local (loopback, ipc, inproc) unless CURVE is on.
    public var control: String

    public init(
        policy: String = "tcp://127.0.0.1:5555", actions: String = "tcp://127.0.0.1:5556",
        control: String = "tcp://127.0.0.1:5557"
    ) {
        self.policy = policy
        self.actions = actions
        self.control = control
    }
}
