import ReflexDaemon
import ReflexScheduler
/// Mutations of a YAML config text: values replaced with scalars YAML reads in surprising ways
/// (base-60 integers, `.nan`, `yes`, tags, aliases), lines deleted, doubled, swapped or
/// re-indented, keys added in the wrong section, and byte-level damage.
struct ConfigMutator {
    /// Other texts to take lines from.
    let donors: [[UInt8]]

    private let bytes = ByteMutator(tokens: ConfigMutator.yamlTokens, numbers: ConfigMutator.yamlScalars)

    static let yamlTokens: [[UInt8]] = [
        ": ", "- ", "\n", "\n  ", "\t", "[", "]", "{", "}", ",", "&a ", "*a", "!!int ", "!!str ", "!!float ", "!!bool ",
        "!!binary ", "!!null ", "!!map ", "!!seq ", "!!timestamp ", "!custom ", "? ", "|", ">", "---\n", "...\n",
        "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "<<: *a\n", "#", "\"", "'", "~", "\\", "@", "`", "\u{FEFF}", "\u{0}",
        "\r\n", "\u{85}", "\u{2028}", "\u{1}",
    ].map { Array($0.utf8) }

    /// Scalars for values: Int.max and past it in every notation YAML 1.1 has, non-finite floats,
    /// booleans that look like words, null spellings, timestamps.
    static let yamlScalars: [[UInt8]] = [
        "1:0:0:0:0:0:0:0:0:0:0:0:0", "-1:0:0:0:0:0:0:0:0:0:0:0:0", "9223372036854775807:59", "-9223372036854775807:59",
        "99:59:59:59:59:59:59:59:59:59:59:59", "190:20:30", "1:30.5", "1_0:0_0", "0x7fffffffffffffff", "0x8000000000000000",
        "-0x8000000000000000", "0x1ffffffffffffffff", "0o777", "0b1010", "0777", "09", "050", "0050.5", "0x", "1_000_000",
        "1e11", "1e300", "-1e300", "604801", "60001", "1048577",
        "99999999999999999999", "9223372036854775807", "9223372036854775808", ".nan", ".NaN", ".inf", "-.inf", "+.inf",
        "1e309", "1.0e+400", "-0", "0", "-1", "1", "0.5", "1e-400", "2001-12-14t21:59:43.10-05:00", "2002-12-14",
        "0.0", "yes", "no", "on", "off", "y", "n", "~", "null", "Null", "\"\"", "''", "[]", "{}", "!!int abc",
        "!!int 1:0:0:0:0:0:0:0:0:0:0:0:0", "!!float 1:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0", "!!bool maybe",
        "!!null x", "*a", "&a 5", "|\n  x", ">-\n  y", "tcp://0.0.0.0:5557", "tcp://[::1]:5555", "tcp://*:*",
        "ipc://", "ipc://@abstract", "inproc://", "tcp://127.0.0.1:0", "tcp://127.0.0.1:65536", "online", "fixed", "info",
    ].map { Array($0.utf8) }

    func mutate(_ text: inout [UInt8], rng: inout SplitMix64) -> StaticString {
        var lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        let name: StaticString
        switch rng.below(12) {
        case 0, 1, 2: name = replaceValue(&lines, &rng)
        case 3:
            if !lines.isEmpty { lines.remove(at: rng.below(lines.count)) }
            name = "delete a line"
        case 4:
            if !lines.isEmpty { let line = rng.pick(lines); lines.insert(line, at: rng.below(lines.count + 1)) }
            name = "duplicate a line"
        case 5:
            if !lines.isEmpty { lines.swapAt(rng.below(lines.count), rng.below(lines.count)) }
            name = "swap two lines"
        case 6: name = reindent(&lines, &rng)
        case 7: name = insertKey(&lines, &rng)
        case 8: name = insertAliases(&lines, &rng)
        default:
            return bytes.mutate(&text, rng: &rng)
        }
        text = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
        return name
    }

    /// Replaces what follows `key:` on a line with a surprising scalar or a small collection.
    private func replaceValue(_ lines: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        let candidates = lines.indices.filter { lines[$0].firstIndex(of: UInt8(ascii: ":")) != nil && lines[$0].first != UInt8(ascii: "#") }
        guard let index = candidates.isEmpty ? nil : rng.pick(candidates),
              let colon = lines[index].firstIndex(of: UInt8(ascii: ":")) else { return insertKey(&lines, &rng) }
        let value: [UInt8]
        switch rng.below(6) {
        case 0: value = rng.pick(Self.yamlTokens) + rng.pick(Self.yamlScalars)
        case 1: value = Array("[".utf8) + rng.pick(Self.yamlScalars) + Array(", ".utf8) + rng.pick(Self.yamlScalars) + Array("]".utf8)
        default: value = rng.pick(Self.yamlScalars)
        }
        lines[index] = Array(lines[index][...colon]) + [UInt8(ascii: " ")] + value
        return "replace a value"
    }

    private func reindent(_ lines: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        guard !lines.isEmpty else { return "re-indent a line" }
        let index = rng.below(lines.count)
        let body = lines[index].drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        let indent: [UInt8] = rng.chance(1, in: 4) ? [0x09] : [UInt8](repeating: 0x20, count: rng.below(7))
        lines[index] = indent + body
        return "re-indent a line"
    }

    /// A known key (of any section, at any depth) or a line of another text, somewhere.
    private func insertKey(_ lines: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        let line: [UInt8]
        if rng.chance(1, in: 3), let donor = donors.isEmpty ? nil : rng.pick(donors) {
            let donorLines = donor.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            line = donorLines.isEmpty ? [] : Array(rng.pick(donorLines))
        } else {
            let path = rng.pick(ConfigRules.allKeyPaths + ConfigRules.rootKeys)
            let key = path.split(separator: ".").last.map(String.init) ?? path
            let indent = String(repeating: "  ", count: rng.below(3))
            line = Array("\(indent)\(key): ".utf8) + rng.pick(Self.yamlScalars)
        }
        lines.insert(line, at: rng.below(lines.count + 1))
        return "insert a key"
    }

    /// An anchor and layers of aliases to it (a small "billion laughs"), under a key of its own
    /// or in place of a section.
    private func insertAliases(_ lines: inout [[UInt8]], _ rng: inout SplitMix64) -> StaticString {
        let levels = 2 + rng.below(8)
        let width = 2 + rng.below(rng.chance(1, in: 2) ? 3 : 8)
        var block = ["\(rng.pick(["laughs", "budget", "engine", "model"])):", "  l0: &l0 [lol, lol]"]
        for level in 1..<levels {
            block.append("  l\(level): &l\(level) [" + [String](repeating: "*l\(level - 1)", count: width).joined(separator: ", ") + "]")
        }
        if rng.chance(1, in: 2) {  // the top one as a key: Yams hashes keys in full
            block += ["? *l\(levels - 1)", ": 1"]
        }
        let at = rng.below(lines.count + 1)
        lines.insert(contentsOf: block.map { Array($0.utf8) }, at: at)
        return "insert layered aliases"
    }
}
