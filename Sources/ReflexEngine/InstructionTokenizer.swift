import Foundation

/// An instruction as the model's word slots, and the words it did not know.
public struct TokenizedInstruction: Sendable, Equatable {
    /// Exactly `instruction_tokens` vocabulary indices (padded / truncated).
    public let ids: [Int32]
    /// Words outside the vocabulary, in order of first appearance, each once.
    public let unknownWords: [String]
}

/// Turns an instruction into word ids (docs/MODEL_FORMAT.md, "Tokens").
public struct InstructionTokenizer: Sendable {
    public let slots: Int
    private let index: [String: Int32]
    private let padID: Int32
    private let unknownID: Int32

    public init(vocabulary: BundleManifest.Vocabulary, slots: Int) {
        var index: [String: Int32] = [:]
        for (i, w) in vocabulary.words.enumerated() where index[w] == nil { index[w] = Int32(i) }
        self.index = index
        self.slots = slots
        padID = index[vocabulary.pad]!
        unknownID = index[vocabulary.unknown]!
    }

    public var vocabularySize: Int { index.count }

    /// The instruction's words: Unicode NFKC normalisation, then lower-casing (Unicode's full
    /// lowercase mapping), then maximal runs of letters, marks and numbers (general categories
    /// L*, M*, N*); everything else separates words. So "ＯＰＥＮ" (full-width) is "open",
    /// "Öffne" is "öffne" and "открой ящик" is two words. The PyTorch reference
    /// (`reflex_model.network.split_words`) does the same; Tests/Fixtures/tokenizer-cases.json
    /// holds the cases both are checked against.
    public static func words(_ text: String) -> [String] {
        let normalized = text.precomposedStringWithCompatibilityMapping.lowercased()
        var words: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in normalized.unicodeScalars {
            if isWordScalar(scalar) {
                current.append(scalar)
            } else if !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// Word ids and unknown words; linear in the instruction's length (a 60 KB instruction of
    /// distinct unknown words once held the serving thread for 0.7 s: the unknown list was
    /// searched per word).
    public func tokenize(_ text: String) -> TokenizedInstruction {
        var ids: [Int32] = []
        var unknown: [String] = []
        var seenUnknown = Set<String>()
        for w in Self.words(text) {
            let id = index[w]
            if id == nil, seenUnknown.insert(w).inserted { unknown.append(w) }
            if ids.count < slots { ids.append(id ?? unknownID) }
        }
        while ids.count < slots { ids.append(padID) }
        return TokenizedInstruction(ids: ids, unknownWords: unknown)
    }
}
