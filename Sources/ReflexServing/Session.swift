import ReflexEngine

/// One robot's state while it is served: its recurrent head state, what it last said, counters.
package struct Session {
    package let robot: String
    package var recurrent: RecurrentState
    package var lastSeen: UInt64
    package var lastSeq: UInt64?
    package var steps = 0
    /// The last instruction, the model (bundle sha256) that tokenized it, and its tokens: robots
    /// repeat the same instruction every step. A reload or a memory cap that swaps the model
    /// makes the tokens be computed again (the vocabulary may differ).
    package var instruction: String?
    package var tokensModel: String?
    package var tokens: TokenizedInstruction?

    package init(robot: String, recurrent: RecurrentState, now: UInt64) {
        self.robot = robot
        self.recurrent = recurrent
        lastSeen = now
    }

    package mutating func tokens(for text: String, tokenizer: InstructionTokenizer, model: String) -> TokenizedInstruction {
        if let tokens, instruction == text, tokensModel == model { return tokens }
        let t = tokenizer.tokenize(text)
        instruction = text
        tokensModel = model
        tokens = t
        return t
    }
}
