/// The header of a reply to a step (frame 1 carries the float32 action bytes).
public struct ActionReply: Sendable, Equatable {
    public var robot: String
    public var seq: UInt64
    /// 1-based index of the exit that produced the action.
    public var exit: Int
    /// How many exits the model has, loaded or not.
    public var exits: Int
    public var reason: ExitReason
    /// The compute this step really spent.
    public var gflops: Double
    public var timing: StepTiming
    /// Shape of the action tensor in frame 1 (float32): `[A]`, or `[H, A]` for a chunk of H actions.
    public var actionShape: [Int]
    /// The control period of a chunk's actions, seconds; nil (and absent from the reply) when H = 1.
    public var periodS: Double?
    /// Instruction words outside the model's vocabulary; omitted from the reply when empty.
    public var unknownWords: [String]

    public init(
        robot: String, seq: UInt64, exit: Int, exits: Int, reason: ExitReason, gflops: Double,
        timing: StepTiming, actionShape: [Int], periodS: Double? = nil, unknownWords: [String] = []
    ) {
        self.robot = robot
        self.seq = seq
        self.exit = exit
        self.exits = exits
        self.reason = reason
        self.gflops = gflops
        self.timing = timing
        self.actionShape = actionShape
        self.periodS = periodS
        self.unknownWords = unknownWords
    }
}
