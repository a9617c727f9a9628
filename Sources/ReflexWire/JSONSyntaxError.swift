/// Why a byte string is not a JSON document, with the byte offset where parsing stopped.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in words (`unexpected '}'`, `invalid UTF-8`).
    public let reason: String
    /// Zero-based byte offset into the input.
    public let offset: Int
    /// True when the failure is malformed UTF-8 rather than JSON grammar.
    public let isEncodingError: Bool

    public init(_ reason: String, offset: Int, isEncodingError: Bool = false) {
        self.reason = reason
        self.offset = offset
        self.isEncodingError = isEncodingError
    }

    public var description: String { "\(reason) at byte \(offset)" }
}
