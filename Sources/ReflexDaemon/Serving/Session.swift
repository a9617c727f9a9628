import ReflexEngine

/// One robot's state in the daemon: its recurrent head state, what it last said, counters.
struct Session {
    let robot: String
    var recurrent: RecurrentState
    var lastSeen: UInt64
    var lastSeq: UInt64?
    var steps = 0
    /// The last instruction and its tokens: robots repeat the same instruction every step.
    var instruction: String?
    var tokens: TokenizedInstruction?

    init(robot: String, recurrent: RecurrentState, now: UInt64) {
        self.robot = robot
        self.recurrent = recurrent
        lastSeen = now
    }

    mutating func tokens(for text: String, tokenizer: InstructionTokenizer) -> TokenizedInstruction {
        if let tokens, instruction == text { return tokens }
        let t = tokenizer.tokenize(text)
        instruction = text
        tokens = t
        return t
    }
}
