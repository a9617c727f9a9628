/// What one step produced. Reused across steps by the caller, so a step allocates nothing.
public struct StepOutput: Sendable {
    /// The action, clipped to the bundle's bounds.
    public var action: [Float]
    /// 1-based exit that produced the action.
    public var exit: Int = 0
    /// `distances[i]` is exit i+1's distance; entries past `exit` are 0 (not computed).
    public var distances: [Float]
    /// Exact FLOPs this step spent.
    public var flops: Int = 0
    /// True when the stop rule chose the exit; false when the step ran out of loaded exits.
    public var stoppedByRule: Bool = false

    public init(actionDim: Int, exits: Int) {
        action = Array(repeating: 0, count: actionDim)
        distances = Array(repeating: 0, count: exits)
    }
}

/// One observation as the engine reads it: raw bytes as they came off the wire.
public struct Observation {
    /// `H × W × C` uint8, row-major.
    public var image: UnsafeRawBufferPointer
    /// `D` little-endian float32 (any alignment).
    public var state: UnsafeRawBufferPointer
    /// `instruction_tokens` word ids from `InstructionTokenizer`.
    public var words: [Int32]

    public init(image: UnsafeRawBufferPointer, state: UnsafeRawBufferPointer, words: [Int32]) {
        self.image = image
        self.state = state
        self.words = words
    }
}
