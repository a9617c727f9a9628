/// What one step produced. Reused across steps by the caller, so a step allocates nothing.
public struct StepOutput: Sendable {
    /// The action chunk, clipped to the bundle's bounds: H·A float32 values, row-major `[H, A]`
    /// (row t is the action t control periods from the observation; H = 1: the action `[A]`).
    public var action: [Float]
    /// 1-based exit that produced the action.
    public var exit: Int = 0
    /// `distances[i]` is exit i+1's distance; entries past `exit` are 0 (not computed).
    public var distances: [Float]
    /// Exact FLOPs this step spent.
    public var flops: Int = 0
    /// True when the stop rule chose the exit; false when the step ran out of loaded exits.
    public var stoppedByRule: Bool = false

    /// `actionValues`: H·A, the values of one action chunk.
    public init(actionValues: Int, exits: Int) {
        action = Array(repeating: 0, count: actionValues)
        distances = Array(repeating: 0, count: exits)
    }
}

/// One observation as the engine reads it: raw bytes as they came off the wire.
public struct Observation {
    /// One image per camera, in the order of `BundleManifest.cameras`: `H × W × C` uint8, row-major.
    public var images: [UnsafeRawBufferPointer]
    /// `D` little-endian float32 (any alignment).
    public var state: UnsafeRawBufferPointer
    /// `instruction_tokens` word ids from `InstructionTokenizer`.
    public var words: [Int32]

    public init(images: [UnsafeRawBufferPointer], state: UnsafeRawBufferPointer, words: [Int32]) {
        self.images = images
        self.state = state
        self.words = words
    }

    /// An observation of a one-camera model.
    public init(image: UnsafeRawBufferPointer, state: UnsafeRawBufferPointer, words: [Int32]) {
        self.init(images: [image], state: state, words: words)
    }
}
