import ReflexDaemon
import ReflexScheduler
import ReflexWire
/// Mutations of a whole multipart request: its header (as JSON and as bytes), its frames (count,
/// order, lengths, NaN bits), its routing envelope, and its serialized framing. Each returns its
/// name for the report.
struct WireMutator {
    /// Other messages to splice from.
    let donors: [[[UInt8]]]
    let maxMessageBytes: Int
    let maxHeaderBytes: Int

    private let headerBytes = ByteMutator(tokens: WireMutator.jsonTokens, numbers: WireMutator.jsonNumbers)

    static let jsonTokens: [[UInt8]] = [
        "\"", "{", "}", "[", "]", ",", ":", "\\", "\\u", "\\ud800", "\\udc00", "\\u0000", "\\uD83D\\uDE00", "null", "true",
        "false", "NaN", "Infinity", "-Infinity", "\"NaN\"", "\"Infinity\"", "0", "-0", "-1", "1e309", "\"\"", "{}", "[]",
        "\"v\":1,", "\"seq\":7,", "\"seq\":true,", "\"type\":\"step\",", "\"type\":\"ping\",", "\"robot\":\"arm-1\",",
        "\"tensors\":[],", "\"instruction\":\"x\",", String(repeating: "[", count: 40), "/*", "//", "\u{FEFF}", " ", "\t",
        "\n", "\"" + String(repeating: "a", count: 300) + "\"",
    ].map { Array($0.utf8) }

    static let jsonNumbers: [[UInt8]] = (HeaderMutator.extremeNumbers + [
        "\"NaN\"", "NaN", "true", "null", "\"7\"", "00", "1.", ".5", "+1", "0x10", "1e", "-", "1e+", "3072", "32",
    ]).map { Array($0.utf8) }

    /// NaN and infinity bit patterns, and finite edge values that must pass.
    static let floatEdges: [UInt32] = [
        0x7FC0_0000, 0x7F80_0001, 0xFFC0_0000, 0x7FFF_FFFF, 0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF, 0x8000_0000, 0x0000_0001,
    ]

    func mutate(_ frames: inout [[UInt8]], rng: inout SplitMix64) -> StaticString {
        switch rng.below(20) {
        case 0...4: return mutateHeaderFields(&frames, &rng)
        case 5...8:
            let index = headerIndex(&frames, &rng)
            return headerBytes.mutate(&frames[index], rng: &rng)
        case 9: return duplicateKey(&frames, &rng)
        case 10: return dropFrame(&frames, &rng)
        case 11: return addFrame(&frames, &rng)
        case 12:
            guard frames.count >= 2 else { return addFrame(&frames, &rng) }
            frames.swapAt(rng.below(frames.count), rng.below(frames.count))
            return "swap two frames"
        case 13: return resizeFrame(&frames, &rng)
        case 14: return writeFloatEdge(&frames, &rng)
        case 15: return mutateEnvelope(&frames, &rng)
        case 16:
            let filler: [UInt8] = rng.chance(1, in: 2) ? [] : [0]
            frames.append(contentsOf: [[UInt8]](repeating: filler, count: 60 + rng.below(10)))
            return "add 60-69 tiny frames"
        case 17: return oversize(&frames, &rng)
        case 18:
            var serialized = FuzzFraming.encode(frames)
            _ = headerBytes.mutate(&serialized, rng: &rng)
            frames = FuzzFraming.decodeLenient(serialized)
            return "mutate the serialized message"
        default: return splice(&frames, &rng)
        }
    }

    // MARK: Header

    /// The header's frame as the decoder will see it; adds one when the message has none.
    private func headerIndex(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> Int {
        if let (_, body) = RoutingEnvelope.split(frames), let first = body.indices.first { return first }
        if frames.count >= 2 { return 1 }
        if frames.isEmpty { frames.append(FuzzSeeds.identity) }
        frames.append(FuzzSeeds.stepHeader)
        return frames.count - 1
    }

    private func mutateHeaderFields(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        let index = headerIndex(&frames, &rng)
        guard case .object(var header)? = try? WireJSON.parse(frames[index], maxDepth: 64) else {
            return headerBytes.mutate(&frames[index], rng: &rng)
        }
        let name = HeaderMutator.mutate(&header, rng: &rng)
        frames[index] = WireJSON.object(header).jsonBytes
        return name
    }

    /// Repeats one of the header's `"key":` with another value, right after the opening brace.
    private func duplicateKey(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        let index = headerIndex(&frames, &rng)
        guard let brace = frames[index].firstIndex(of: UInt8(ascii: "{")) else {
            return headerBytes.mutate(&frames[index], rng: &rng)
        }
        let key = rng.pick(HeaderMutator.fieldNames)
        let value = rng.pick(["1", "7", "\"step\"", "\"arm-1\"", "null", "[]"])
        frames[index].insert(contentsOf: Array("\"\(key)\":\(value),".utf8), at: brace + 1)
        return "duplicate a key"
    }

    // MARK: Frames

    private func dropFrame(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        guard !frames.isEmpty else { return addFrame(&frames, &rng) }
        // Mostly a tensor frame (the last ones); sometimes any, identity and header included.
        let index = rng.chance(3, in: 4) ? frames.count - 1 - rng.below(min(2, frames.count)) : rng.below(frames.count)
        frames.remove(at: index)
        return "drop a frame"
    }

    private func addFrame(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        let frame: [UInt8]
        switch rng.below(4) {
        case 0: frame = []
        case 1: frame = frames.isEmpty ? FuzzSeeds.state : rng.pick(frames)
        case 2: frame = rng.pick([FuzzSeeds.image, FuzzSeeds.state])
        default: frame = (0..<rng.below(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        frames.insert(frame, at: rng.chance(3, in: 4) ? frames.count : rng.below(frames.count + 1))
        return "add a frame"
    }

    /// A frame made a few bytes shorter or longer, or a random length.
    private func resizeFrame(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        guard !frames.isEmpty else { return addFrame(&frames, &rng) }
        let index = frames.count - 1 - rng.below(min(2, frames.count))
        let delta = rng.chance(1, in: 2) ? 1 + rng.below(4) : -(1 + rng.below(4))
        let target = rng.chance(1, in: 4) ? rng.below(4 * 3072) : max(0, frames[index].count + delta)
        if target < frames[index].count {
            frames[index].removeSubrange(target...)
        } else {
            frames[index].append(contentsOf: [UInt8](repeating: 0, count: target - frames[index].count))
        }
        return "resize a frame"
    }

    /// NaN, infinity or an edge float written into a frame, most often at a 4-byte boundary.
    private func writeFloatEdge(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        guard let index = frames.indices.last, frames[index].count >= 4 else { return addFrame(&frames, &rng) }
        let slots = frames[index].count / 4
        let offset = rng.chance(7, in: 8) ? 4 * rng.below(slots) : rng.below(frames[index].count - 3)
        let bits = rng.pick(Self.floatEdges)
        for byte in 0..<4 { frames[index][offset + byte] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(byte))) }
        return "write a NaN, infinity or edge float"
    }

    private func mutateEnvelope(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        switch rng.below(6) {
        case 0:
            if !frames.isEmpty { frames.removeFirst() }
            return "remove the identity"
        case 1:
            if frames.isEmpty { frames.append([]) } else { frames[0] = [] }
            return "empty the identity"
        case 2:
            frames.insert(rng.chance(1, in: 2) ? Array("{hop".utf8) : [UInt8](repeating: 7, count: 256),
                          at: min(1, frames.count))
            return "add an odd identity hop"
        case 3:
            frames.insert([], at: min(1 + rng.below(2), frames.count))
            return "add a delimiter"
        case 4:
            if let empty = frames.dropFirst().firstIndex(where: \.isEmpty) { frames.remove(at: empty) }
            return "remove a delimiter"
        default:
            frames.insert(Array("proxy-\(rng.below(100))".utf8), at: min(1, frames.count))
            return "add a proxy hop"
        }
    }

    /// A message or header right at, or just past, its limit.
    private func oversize(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        let index = headerIndex(&frames, &rng)
        if rng.chance(1, in: 2) {
            let total = frames[1...].reduce(0) { $0 + $1.count }
            let padding = max(0, maxMessageBytes - total + rng.below(5) - 2)
            frames.append([UInt8](repeating: 0x41, count: padding))
            return "pad the message to its limit"
        }
        let padding = max(0, maxHeaderBytes - frames[index].count + rng.below(5) - 2 - 10)
        if let brace = frames[index].firstIndex(of: UInt8(ascii: "{")) {
            frames[index].insert(contentsOf: Array("\"pad\":\"".utf8) + [UInt8](repeating: 0x78, count: padding) + Array("\",".utf8),
                                 at: brace + 1)
        }
        return "pad the header to its limit"
    }

    /// Frames or header bytes taken from another message.
    private func splice(_ frames: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        let donor = rng.pick(donors)
        guard !donor.isEmpty else { return dropFrame(&frames, &rng) }
        if rng.chance(1, in: 2) {
            let index = headerIndex(&frames, &rng)
            let other = rng.pick(donor)
            let cut = rng.below(frames[index].count + 1)
            let otherCut = rng.below(other.count + 1)
            frames[index] = Array(frames[index][..<cut]) + Array(other[otherCut...])
            return "splice two headers"
        }
        let keep = rng.below(frames.count + 1)
        frames = Array(frames[..<keep]) + Array(donor[rng.below(donor.count)...])
        return "splice two messages"
    }
}
