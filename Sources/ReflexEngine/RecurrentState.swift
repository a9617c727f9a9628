/// One robot's recurrent head state `(h, c)` for every LSTM layer, owned by the caller
/// (the daemon keeps one per robot). Zeros after a reset.
public struct RecurrentState: Sendable, Equatable {
    public let layers: Int
    public let hidden: Int
    /// `[layers × hidden]`, layer-major.
    public var h: [Float]
    public var c: [Float]

    public init(layers: Int, hidden: Int) {
        self.layers = layers
        self.hidden = hidden
        h = Array(repeating: 0, count: layers * hidden)
        c = Array(repeating: 0, count: layers * hidden)
    }

    public mutating func reset() {
        for i in h.indices { h[i] = 0; c[i] = 0 }
    }
}
