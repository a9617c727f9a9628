@testable import ReflexEngine
import Testing

@testable import ReflexServing

@Suite struct SessionTests {
    /// A reload to a bundle with another vocabulary must not reuse the old model's word ids.
    @Test func cachedTokensAreRecomputedWhenTheModelChanges() throws {
        let old = InstructionTokenizer(
            vocabulary: BundleManifest.Vocabulary(words: ["<pad>", "<unk>", "open", "drawer"], pad: "<pad>", unknown: "<unk>"), slots: 3)
        let new = InstructionTokenizer(
            vocabulary: BundleManifest.Vocabulary(words: ["<pad>", "<unk>", "close", "drawer", "open"], pad: "<pad>", unknown: "<unk>"), slots: 3)
        var session = Session(robot: "arm-1", recurrent: RecurrentState(layers: 1, hidden: 1), now: 0)
        #expect(session.tokens(for: "open drawer", tokenizer: old, model: "a").ids == [2, 3, 0])
        #expect(session.tokens(for: "open drawer", tokenizer: old, model: "a").ids == [2, 3, 0])
        #expect(session.tokens(for: "open drawer", tokenizer: new, model: "b").ids == [4, 3, 0])
    }
}
