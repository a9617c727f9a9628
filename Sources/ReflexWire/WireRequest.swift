/// A request that passed every check of the codec: the serving loop can run it as is.
public struct WireRequest: Sendable {
    public let header: WireHeader
    /// One per model input, in the model's input order (not necessarily the order the client
    /// sent the frames in); empty for `ping` and `reset`.
    public let tensors: [WireTensor]

    public init(header: WireHeader, tensors: [WireTensor]) {
        self.header = header
        self.tensors = tensors
    }

    /// The tensor of the given input name, if the request has one.
    public func tensor(named name: String) -> WireTensor? {
        tensors.first { $0.spec.name == name }
    }
}
