/// A strict recursive-descent JSON parser over raw bytes.
///
/// Strict on purpose: the header of every request passes through here, including hostile
/// ones, so anything RFC 8259 does not allow (trailing commas, NaN, comments, raw control
/// characters, lone surrogates, invalid UTF-8) is an error with a byte offset.
struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private let maxDepth: Int
    private var index = 0
    private var depth = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONSyntaxError) -> WireJSON {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw unexpected() }
        return value
    }

    // MARK: Values

    private mutating func parseValue() throws(JSONSyntaxError) -> WireJSON {
        guard index < bytes.count else { throw JSONSyntaxError("unexpected end of input", offset: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw unexpected()
        }
    }

    private mutating func parseObject() throws(JSONSyntaxError) -> WireJSON {
        try enterContainer()
        index += 1  // {
        var members: [(key: String, value: WireJSON)] = []
        members.reserveCapacity(8)
        // Small objects (every real header) check duplicates by a linear scan; a hostile header
        // with thousands of keys switches to a set so the check stays linear overall.
        var seenKeys: Set<String>?
        skipWhitespace()
        if peek(UInt8(ascii: "}")) {
            index += 1
            depth -= 1
            return .object(JSONObject(uniqueMembers: members))
        }
        while true {
            skipWhitespace()
            guard peek(UInt8(ascii: "\"")) else { throw unexpected(expecting: "a string key") }
            let keyOffset = index
            let key = try parseString()
            skipWhitespace()
            guard peek(UInt8(ascii: ":")) else { throw unexpected(expecting: "':'") }
            index += 1
            skipWhitespace()
            let value = try parseValue()
            // A repeated key is ambiguous (which one wins differs between parsers), so refuse it.
            let isDuplicate: Bool
            if var seen = seenKeys {
                seenKeys = nil  // keep the set uniquely referenced while inserting
                isDuplicate = !seen.insert(key).inserted
                seenKeys = seen
            } else if members.count < 16 {
                isDuplicate = members.contains { $0.key == key }
            } else {
                var seen = Set(members.map(\.key))
                isDuplicate = !seen.insert(key).inserted
                seenKeys = seen
            }
            guard !isDuplicate else {
                throw JSONSyntaxError("duplicate key \"\(JSONParser.abbreviated(key))\"", offset: keyOffset)
            }
            members.append((key, value))
            skipWhitespace()
            guard index < bytes.count else { throw JSONSyntaxError("unexpected end of input", offset: index) }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw unexpected(expecting: "',' or '}'") }
            index += 1
            depth -= 1
            return .object(JSONObject(uniqueMembers: members))
        }
    }

    private mutating func parseArray() throws(JSONSyntaxError) -> WireJSON {
        try enterContainer()
        index += 1  // [
        var array: [WireJSON] = []
        skipWhitespace()
        if peek(UInt8(ascii: "]")) {
            index += 1
            depth -= 1
            return .array(array)
        }
        while true {
            skipWhitespace()
            array.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw JSONSyntaxError("unexpected end of input", offset: index) }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw unexpected(expecting: "',' or ']'") }
            index += 1
            depth -= 1
            return .array(array)
        }
    }

    /// Depth is bounded so a header of 60,000 '[' cannot exhaust the stack.
    private mutating func enterContainer() throws(JSONSyntaxError) {
        depth += 1
        guard depth <= maxDepth else {
            throw JSONSyntaxError("nesting deeper than \(maxDepth) levels", offset: index)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw unexpected() }
        let matches = literal.withUTF8Buffer { expected in
            for offset in 0..<count where bytes[index + offset] != expected[offset] { return false }
            return true
        }
        guard matches else { throw unexpected() }
        index += count
    }

    // MARK: Numbers

    private mutating func parseNumber() throws(JSONSyntaxError) -> JSONNumber {
        let start = index
        if peek(UInt8(ascii: "-")) { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw unexpected(expecting: "a digit") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            // JSON forbids leading zeros: "012" is not a number.
            if index < bytes.count, isDigit(bytes[index]) { throw unexpected() }
        } else {
            skipDigits()
        }
        if peek(UInt8(ascii: ".")) {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw unexpected(expecting: "a digit") }
            skipDigits()
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            index += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw unexpected(expecting: "a digit") }
            skipDigits()
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        return JSONNumber(validatedText: text)
    }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    // MARK: Strings

    private mutating func parseString() throws(JSONSyntaxError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes. Scan to the closing quote, then validate UTF-8 once.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = try decodeUTF8(start..<index)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw JSONSyntaxError("raw control character in string", offset: index) }
            index += 1
        }
        guard index < bytes.count else { throw JSONSyntaxError("unterminated string", offset: start - 1) }
        // Slow path: escapes present. Collect bytes, then validate.
        var scratch = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                guard let text = String(validating: scratch, as: UTF8.self) else {
                    throw JSONSyntaxError("invalid UTF-8 in string", offset: start, isEncodingError: true)
                }
                return text
            }
            if byte < 0x20 { throw JSONSyntaxError("raw control character in string", offset: index) }
            if byte != UInt8(ascii: "\\") {
                scratch.append(byte)
                index += 1
                continue
            }
            let escapeOffset = index
            index += 1
            guard index < bytes.count else { break }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "\""): scratch.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): scratch.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): scratch.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                let scalar = try parseUnicodeEscape(at: escapeOffset)
                scratch.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw JSONSyntaxError("invalid escape", offset: escapeOffset)
            }
        }
        throw JSONSyntaxError("unterminated string", offset: start - 1)
    }

    /// Reads the four hex digits after `\u` (and a following low surrogate when needed).
    private mutating func parseUnicodeEscape(at escapeOffset: Int) throws(JSONSyntaxError) -> Unicode.Scalar {
        let high = try parseHex4(escapeOffset)
        if (0xDC00...0xDFFF).contains(high) {
            throw JSONSyntaxError("lone low surrogate", offset: escapeOffset)
        }
        if (0xD800...0xDBFF).contains(high) {
            guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw JSONSyntaxError("lone high surrogate", offset: escapeOffset)
            }
            index += 2
            let low = try parseHex4(escapeOffset)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw JSONSyntaxError("lone high surrogate", offset: escapeOffset)
            }
            let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            return Unicode.Scalar(value)!
        }
        return Unicode.Scalar(high)!
    }

    private mutating func parseHex4(_ escapeOffset: Int) throws(JSONSyntaxError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw JSONSyntaxError("invalid \\u escape", offset: escapeOffset) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONSyntaxError("invalid \\u escape", offset: escapeOffset)
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private func decodeUTF8(_ range: Range<Int>) throws(JSONSyntaxError) -> String {
        let slice = UnsafeRawBufferPointer(rebasing: bytes[range])
        if !slice.contains(where: { $0 >= 0x80 }) {
            return String(decoding: slice, as: UTF8.self)
        }
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw JSONSyntaxError("invalid UTF-8 in string", offset: range.lowerBound, isEncodingError: true)
        }
        return text
    }

    // MARK: Helpers

    private func peek(_ byte: UInt8) -> Bool {
        index < bytes.count && bytes[index] == byte
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private func unexpected(expecting expected: String? = nil) -> JSONSyntaxError {
        guard index < bytes.count else { return JSONSyntaxError("unexpected end of input", offset: index) }
        let byte = bytes[index]
        if byte >= 0x80 {
            return JSONSyntaxError("invalid UTF-8 or unexpected non-ASCII byte", offset: index, isEncodingError: true)
        }
        let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        let suffix = expected.map { ", expected \($0)" } ?? ""
        return JSONSyntaxError("unexpected \(shown)\(suffix)", offset: index)
    }

    /// Keeps echoed client text short in messages (a hostile key may be 60 KiB).
    static func abbreviated(_ text: String, limit: Int = 40) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }
}
