/// A validated request header (frame 0 of a request).
public struct WireHeader: Sendable, Equatable {
    public var type: WireRequestType
    /// The robot id; always set on `step` and `reset`, optional on `ping`.
    public var robot: String?
    /// Echoed back in the reply so the client can match it.
    public var seq: UInt64
    /// The task in words; set on every `step`, nil otherwise.
    public var instruction: String?
    /// A tighter deadline for this step only, in milliseconds (> 0).
    public var deadlineMs: Double?
    /// The declared tensors, in frame order (empty for `ping` and `reset`).
    public var tensors: [TensorSpec]

    public init(
        type: WireRequestType, robot: String?, seq: UInt64, instruction: String? = nil,
        deadlineMs: Double? = nil, tensors: [TensorSpec] = []
    ) {
        self.type = type
        self.robot = robot
        self.seq = seq
        self.instruction = instruction
        self.deadlineMs = deadlineMs
        self.tensors = tensors
    }
}
