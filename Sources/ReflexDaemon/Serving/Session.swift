import ReflexEngine

/// One robot's state in the daemon: its recurrent head state, what it last said, counters.
struct Session {
    let robot: String
    var recurrent: RecurrentState
    var lastSeen: UInt64
    var lastSeq: UInt64?
    var steps = 0
    /// The last instruction, the model (bundle sha256) that tokenized it, and its tokens: robots
    /// repeat the same instruction every step. A reload or a memory cap that swaps the model
    /// makes the tokens be computed again (the vocabulary may differ).
    var instruction: String?
    var tokensModel: String?
    var tokens: TokenizedInstruction?

    init(robot: String, recurrent: RecurrentState, now: UInt64) {
        self.robot = robot
        self.recurrent = recurrent
        lastSeen = now
    }

    mutating func tokens(for text: String, tokenizer: InstructionTokenizer, model: String) -> TokenizedInstruction {
        if let tokens, instruction == text, tokensModel == model { return tokens }
        let t = tokenizer.tokenize(text)
        instruction = text
        tokensModel = model
        tokens = t
        return t
    }
}
