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

    /// Lower-cases A-Z (ASCII only, so every runtime agrees), splits on every other byte
    /// outside a-z and 0-9.
    public static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current: [UInt8] = []
        for raw in text.utf8 {
            let byte = raw >= 65 && raw <= 90 ? raw + 32 : raw
            let isWordByte = (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57)
            if isWordByte { current.append(byte) } else if !current.isEmpty {
                words.append(String(decoding: current, as: UTF8.self)); current.removeAll(keepingCapacity: true)
            }
        }
        if !current.isEmpty { words.append(String(decoding: current, as: UTF8.self)) }
        return words
    }

    public func tokenize(_ text: String) -> TokenizedInstruction {
        var ids: [Int32] = []
        var unknown: [String] = []
        for w in Self.words(text) {
            let id = index[w] ?? unknownID
            if index[w] == nil, !unknown.contains(w) { unknown.append(w) }
            if ids.count < slots { ids.append(id) }
        }
        while ids.count < slots { ids.append(padID) }
        return TokenizedInstruction(ids: ids, unknownWords: unknown)
    }
}
