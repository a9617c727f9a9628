/// A JSON number kept as its literal text, so that callers can ask exact questions
/// ("is this an unsigned integer that fits 64 bits?") instead of trusting a `Double`.
public struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// The literal as it appeared in the document; always valid JSON number syntax.
    public let text: String

    /// Trusts that `text` is valid JSON number syntax (the parser checked it).
    package init(validatedText text: String) {
        self.text = text
    }

    /// Creates a number from a Double; non-finite values cannot be JSON numbers.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        var writer = JSONWriter()
        writer.double(value)
        self.text = String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Creates a number from an integer.
    public init(_ value: some BinaryInteger) {
        self.text = String(value)
    }

    /// The nearest Double; literals beyond its range give ±infinity.
    public var double: Double {
        Double(text) ?? .nan
    }

    /// True when written without fraction or exponent (`3`, `-7`, but not `3.0` or `3e0`).
    public var isIntegerLiteral: Bool {
        !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    /// The value when it is a non-negative integer literal that fits 64 bits, else nil.
    public var uint64: UInt64? {
        guard isIntegerLiteral, text.utf8.first != UInt8(ascii: "-") else { return nil }
        return UInt64(text)
    }

    /// The value when it is an integer literal that fits `Int`, else nil.
    public var int: Int? {
        guard isIntegerLiteral else { return nil }
        return Int(text)
    }

    public var description: String { text }
}
