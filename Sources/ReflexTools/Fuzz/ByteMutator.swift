import ReflexDaemon
import ReflexScheduler
/// Format-blind mutations of a byte string (a JSON header, a YAML text), each named for the
/// report. The format comes in only through `tokens` (spliced in whole) and `numbers`
/// (replacing a number literal found in the text).
struct ByteMutator {
    let tokens: [[UInt8]]
    let numbers: [[UInt8]]

    /// Sequences no UTF-8 decoder may accept: stray continuation bytes, overlong forms,
    /// surrogates, code points past U+10FFFF, truncated sequences, bytes never used.
    static let invalidUTF8: [[UInt8]] = [
        [0x80], [0xBF], [0xC0, 0xAF], [0xC1, 0xBF], [0xC3], [0xC3, 0x28], [0xE2, 0x82], [0xE0, 0x80, 0x80],
        [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF0, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE], [0xFF],
    ]
    /// Bytes that mean something in JSON or YAML, control bytes and edges of UTF-8.
    static let interestingBytes: [UInt8] = [
        0x00, 0x01, 0x08, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x26, 0x27, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E,
        0x30, 0x31, 0x39, 0x3A, 0x3E, 0x3F, 0x40, 0x45, 0x5B, 0x5C, 0x5D, 0x65, 0x7B, 0x7C, 0x7D, 0x7F, 0x80, 0xC0,
        0xC3, 0xE2, 0xF0, 0xFF,
    ]

    /// Applies one mutation at random and returns its name.
    func mutate(_ bytes: inout [UInt8], rng: inout SplitMix64) -> StaticString {
        switch rng.below(11) {
        case 0: return flipBit(&bytes, &rng)
        case 1: return setByte(&bytes, &rng)
        case 2: return insertRandomBytes(&bytes, &rng)
        case 3: return insert(rng.pick(tokens), into: &bytes, &rng, name: "insert token")
        case 4: return deleteRange(&bytes, &rng)
        case 5: return duplicateRange(&bytes, &rng)
        case 6: return truncate(&bytes, &rng)
        case 7, 8: return replaceNumber(&bytes, &rng)
        case 9: return replaceQuoted(&bytes, &rng)
        default: return insert(rng.pick(Self.invalidUTF8), into: &bytes, &rng, name: "insert invalid UTF-8")
        }
    }

    private func flipBit(_ bytes: inout [UInt8], _ rng: inout SplitMix64) -> StaticString {
        guard !bytes.isEmpty else { return insertRandomBytes(&bytes, &rng) }
        bytes[rng.below(bytes.count)] ^= 1 << UInt8(rng.below(8))
        return "flip a bit"
    }

    private func setByte(_ bytes: inout [UInt8], _ rng: inout SplitMix64) -> StaticString {
        guard !bytes.isEmpty else { return insertRandomBytes(&bytes, &rng) }
        bytes[rng.below(bytes.count)] = rng.pick(Self.interestingBytes)
        return "set a byte"
    }

    private func insertRandomBytes(_ bytes: inout [UInt8], _ rng: inout SplitMix64) -> StaticString {
        let count = 1 + rng.below(8)
        let random = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        return insert(random, into: &bytes, &rng, name: "insert random bytes")
    }

    private func insert(_ piece: [UInt8], into bytes: inout [UInt8], _ rng: inout SplitMix64, name: StaticString) -> StaticString {
        bytes.insert(contentsOf: piece, at: rng.below(bytes.count + 1))
        return name
    }

    private func deleteRange(_ bytes: inout [UInt8], _ rng: inout SplitMix64) -> StaticString {
        guard !bytes.isEmpty else { return insertRandomBytes(&bytes, &rng) }
        let start = rng.below(bytes.count)
        let longest = rng.chance(1, in: 8) ? bytes.count - start : min(bytes.count - start, 16)
        bytes.removeSubrange(start..<start + 1 + rng.below(longest))
        return "delete a range"
    }

    private func duplicateRange(_ bytes: inout [UInt8], _ rng: inout SplitMix64) -> StaticString {
        guard !bytes.isEmpty else { return insertRandomBytes(&bytes, &rng) }
        let start = rng.below(bytes.count)
        let piece = Array(bytes[start..<start + 1 + rng.below(min(bytes.count - start, 64))])
        let copies = rng.chance(1, in: 8) ? 1 + rng.below(64) : 1
        var repeated: [UInt8] = []
        for _ in 0..<copies { repeated.append(contentsOf: piece) }
        return insert(repeated, into: &bytes, &rng, name: "duplicate a range")
    }

    private func truncate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) -> StaticString {
        bytes.removeSubrange(rng.below(bytes.count + 1)...)
        return "truncate"
    }

    /// Replaces a whole number literal (`-12.5e3`), the first one found from a random place.
    private func replaceNumber(_ bytes: inout [UInt8], _ rng: inout SplitMix64) -> StaticString {
        guard let range = Self.literal(in: bytes, from: bytes.isEmpty ? 0 : rng.below(bytes.count), where: Self.isNumberStart,
                                       continuing: Self.isNumberByte) else {
            return insert(rng.pick(numbers), into: &bytes, &rng, name: "insert a number")
        }
        bytes.replaceSubrange(range, with: rng.pick(numbers))
        return "replace a number"
    }

    /// Replaces a quoted string (quotes included) with a token.
    private func replaceQuoted(_ bytes: inout [UInt8], _ rng: inout SplitMix64) -> StaticString {
        let quote = UInt8(ascii: "\"")
        let from = bytes.isEmpty ? 0 : rng.below(bytes.count)
        guard let open = bytes[from...].firstIndex(of: quote) ?? bytes.firstIndex(of: quote),
              let close = bytes[(open + 1)...].firstIndex(of: quote) else {
            return insert(rng.pick(tokens), into: &bytes, &rng, name: "insert token")
        }
        bytes.replaceSubrange(open...close, with: rng.chance(1, in: 2) ? rng.pick(tokens) : rng.pick(numbers))
        return "replace a string"
    }

    private static func literal(
        in bytes: [UInt8], from start: Int, where isStart: (UInt8) -> Bool, continuing: (UInt8) -> Bool
    ) -> Range<Int>? {
        let begin = bytes[start...].firstIndex(where: isStart) ?? bytes.firstIndex(where: isStart)
        guard var lower = begin else { return nil }
        while lower > 0, continuing(bytes[lower - 1]) { lower -= 1 }  // back to the start of the literal
        var upper = lower
        while upper < bytes.count, continuing(bytes[upper]) { upper += 1 }
        return lower..<upper
    }

    private static func isNumberStart(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        isNumberStart(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: ":")
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "x")
    }
}
