import Yams

/// Reads typed values out of composed YAML nodes. Every problem is recorded with the node's
/// line and column and reading carries on, so one pass reports everything wrong in the file.
struct ConfigNodeReader {
    let file: String
    private(set) var problems: [ConfigProblem] = []

    init(file: String) {
        self.file = file
    }

    /// A mapping of the config (the root or a section) with its entries by key name.
    struct Section {
        /// Dotted path of the section (`security.curve`); empty for the root.
        let path: String
        /// Where the section starts; problems about missing keys point here.
        let mark: Mark?
        let entries: [String: (key: Node, value: Node)]

        /// The value of `key`, or nil when it is absent or null (null means "use the default").
        func value(_ key: String) -> Node? {
            guard let value = entries[key]?.value, ConfigNodeReader.tagName(value) != .null else { return nil }
            return value
        }

        func keyMark(_ key: String) -> Mark? { entries[key]?.key.mark }

        func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    }

    mutating func report(at mark: Mark?, _ message: String) {
        problems.append(ConfigProblem(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
    }

    /// Reads `node` as a section with the given keys, reporting unknown keys. An absent or null
    /// section reads as empty (all defaults); a non-mapping is reported and reads as empty too.
    mutating func section(_ node: Node?, path: String, keys: [String], fallbackMark: Mark? = nil) -> Section {
        guard let node, ConfigNodeReader.tagName(node) != .null else {
            return Section(path: path, mark: node?.mark ?? fallbackMark, entries: [:])
        }
        guard case .mapping(let mapping) = node else {
            let subject = path.isEmpty ? "the config" : path
            report(at: node.mark, "\(subject): must be a mapping of keys, got \(Self.describe(node))")
            return Section(path: path, mark: node.mark, entries: [:])
        }
        var entries: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                report(at: key.mark, "\(path.isEmpty ? "" : path + ": ")keys must be plain names, got \(Self.describe(key))")
                continue
            }
            let name = scalar.string
            let keyPath = path.isEmpty ? name : "\(path).\(name)"
            guard keys.contains(name) else {
                var message = "\(keyPath): unknown key"
                if let suggestion = KeySuggestion.suggestion(for: name, among: keys, section: path) {
                    message += " (did you mean '\(suggestion)'?)"
                }
                report(at: key.mark, message)
                continue
            }
            entries[name] = (key, value)
        }
        return Section(path: path, mark: node.mark, entries: entries)
    }

    // MARK: Typed values

    mutating func string(_ section: Section, _ key: String) -> String? {
        guard let node = section.value(key) else { return nil }
        guard case .scalar(let scalar) = node, ConfigNodeReader.tagName(node) == .str else {
            report(at: node.mark, "\(section.keyPath(key)): must be a string, got \(Self.describe(node))")
            return nil
        }
        guard !scalar.string.isEmpty else {
            report(at: node.mark, "\(section.keyPath(key)): must not be empty")
            return nil
        }
        return scalar.string
    }

    mutating func bool(_ section: Section, _ key: String) -> Bool? {
        guard let node = section.value(key) else { return nil }
        guard ConfigNodeReader.tagName(node) == .bool, let value = node.bool else {
            report(at: node.mark, "\(section.keyPath(key)): must be true or false, got \(Self.describe(node))")
            return nil
        }
        return value
    }

    mutating func integer(_ section: Section, _ key: String, _ rule: ConfigRules.IntegerRule) -> Int? {
        guard let node = section.value(key) else { return nil }
        if let problem = Self.notationProblem(node) {
            report(at: node.mark, "\(section.keyPath(key)): \(problem)")
            return nil
        }
        guard ConfigNodeReader.tagName(node) == .int, let value = Self.intValue(node), rule.range.contains(value) else {
            report(at: node.mark, "\(section.keyPath(key)): \(rule.requirement), got \(Self.describe(node))")
            return nil
        }
        return value
    }

    mutating func number(_ section: Section, _ key: String, _ rule: ConfigRules.NumberRule) -> Double? {
        guard let node = section.value(key) else { return nil }
        if let problem = Self.notationProblem(node) {
            report(at: node.mark, "\(section.keyPath(key)): \(problem)")
            return nil
        }
        let value: Double?
        switch ConfigNodeReader.tagName(node) {
        case .int: value = Self.intValue(node).map(Double.init)
        case .float: value = node.float
        default:
            report(at: node.mark, "\(section.keyPath(key)): must be a number, got \(Self.describe(node))")
            return nil
        }
        guard let value, value.isFinite else {
            report(at: node.mark, "\(section.keyPath(key)): must be a finite number, got \(Self.describe(node))")
            return nil
        }
        guard rule.accepts(value) else {
            report(at: node.mark, "\(section.keyPath(key)): \(rule.requirement), got \(Self.describe(node))")
            return nil
        }
        return value
    }

    /// A string that must be one of `options`.
    mutating func choice(_ section: Section, _ key: String, _ options: [String]) -> String? {
        guard let node = section.value(key) else { return nil }
        guard case .scalar(let scalar) = node, options.contains(scalar.string), ConfigNodeReader.tagName(node) == .str else {
            report(at: node.mark, "\(section.keyPath(key)): must be one of \(options.joined(separator: ", ")), got \(Self.describe(node))")
            return nil
        }
        return scalar.string
    }

    /// Why a number-tagged plain scalar is refused, or nil when it is written in plain decimal
    /// (`50`, `-2`, `0.5`, `1e-3`, `1_000`). YAML 1.1, which Yams follows, reads `050` as octal
    /// 40, `0x32` as 50, `0b110` as 6 and `1:30` (base 60) as 90; a person reading the file sees
    /// 50, or something that is not a number at all. Such values are refused, not guessed.
    static func notationProblem(_ node: Node) -> String? {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return nil }
        let tag = tagName(node)
        guard tag == .int || tag == .float else { return nil }
        let text = scalar.string
        var body = Substring(text)
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        if body.hasPrefix(".") { return nil }  // .5, .inf, .nan: decimal or caught as non-finite
        let digits = body.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
        let rest = body.dropFirst(digits.count)
        if rest.first.map({ $0 != "." && $0 != "e" && $0 != "E" }) ?? false {
            let reading = text.contains(":") ? "in base 60" : Self.yamlIntValue(node).map { "as \($0)" } ?? "in another base"
            return "write the number in plain decimal, got \(text) (YAML 1.1 reads it \(reading))"
        }
        if digits.count > 1, digits.first == "0" {
            let reading = tag == .int ? Self.yamlIntValue(node).map { " (YAML 1.1 reads it as octal: \($0))" } ?? "" : ""
            return "write the number without leading zeros, got \(text)\(reading)"
        }
        return nil
    }

    /// The value of an `int`-tagged node in plain decimal (after `notationProblem`), or nil when
    /// it does not fit `Int`.
    static func intValue(_ node: Node) -> Int? {
        guard case .scalar(let scalar) = node else { return nil }
        return Int(scalar.string.replacingOccurrences(of: "_", with: ""), radix: 10)
    }

    /// What YAML 1.1 makes of an int scalar (for error messages only): Yams' own reading, except
    /// for base 60, whose unchecked multiplication traps on long inputs.
    private static func yamlIntValue(_ node: Node) -> Int? {
        guard case .scalar(let scalar) = node, !scalar.string.contains(":") else { return nil }
        return node.int
    }

    /// The node's resolved YAML type (`str`, `int`, `float`, `bool`, `null`, ...). A quoted
    /// scalar is always `str`, so `"512"` is a string, not a number.
    static func tagName(_ node: Node) -> Tag.Name {
        Resolver.default.resolveTag(of: node)
    }

    /// A node as an error message shows it: scalars as written (strings quoted), containers by kind.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            let text = scalar.string.count > 40 ? String(scalar.string.prefix(40)) + "…" : scalar.string
            switch ConfigNodeReader.tagName(node) {
            case .str: return "\"\(text)\""
            case .null: return "null"
            default: return text
            }
        }
    }
}
