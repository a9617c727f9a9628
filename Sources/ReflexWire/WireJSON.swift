/// A parsed JSON document, as the wire header and the control socket see it.
///
/// Hand-parsed rather than taken from `JSONSerialization`: Foundation turns `true` into an
/// `NSNumber` that also reads as `1`, and turns `1.0` and `1` into the same thing, while the
/// protocol must tell a boolean from a sequence number and an integer from a fraction. (The
/// engine's `JSONValue` reads bundle manifests through Codable, where every number is a Double.)
public enum WireJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([WireJSON])
    case object(JSONObject)

    /// Parses one JSON text (RFC 8259) from UTF-8 bytes. Duplicate object keys, invalid UTF-8,
    /// lone surrogates and nesting deeper than `maxDepth` are errors, not guesses.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 32) throws(JSONSyntaxError) -> WireJSON {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    /// Parses one JSON text from a byte array (tests, the control socket).
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 32) throws(JSONSyntaxError) -> WireJSON {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONSyntaxError) in try parse(buffer, maxDepth: maxDepth) }
        }
        return try result.get()
    }

    /// Parses one JSON text from a string.
    public static func parse(_ text: String, maxDepth: Int = 32) throws(JSONSyntaxError) -> WireJSON {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    /// The compact JSON text of this value; object keys sorted so output is stable.
    public var jsonBytes: [UInt8] {
        var writer = JSONWriter()
        writer.value(self)
        return writer.bytes
    }

    /// What kind of value this is, in words, for error messages ("got a string").
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}
