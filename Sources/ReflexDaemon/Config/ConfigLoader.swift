import Foundation
import Yams

/// Loads and validates `reflexd.yaml`. The one way to read a config: `reflexd --config`,
/// `reflexd --check-config`, SIGHUP and `{"cmd":"reload"}` all come through here.
public enum ConfigLoader {
    /// Reads and validates the file at `path`. Problems are reported against `path` as given.
    /// `checkFiles` also requires the model directory and (with CURVE) the key files to exist;
    /// the daemon and `--check-config` pass true, unit tests of the format pass false.
    /// `openFiles` (with `checkFiles`; `--check-config` only) also opens the model bundle and
    /// reads the key files as start-up does, reporting at their keys what would stop the start;
    /// the daemon does not pass it, because it opens them right after and would read them twice.
    public static func load(path: String, checkFiles: Bool = false, openFiles: Bool = false) throws(ConfigError) -> DaemonConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw .invalid([ConfigProblem(file: path, line: 1, column: 1, message: "cannot read the config file: \(reason)")])
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            let (line, column) = firstInvalidUTF8Position(in: Array(data))
            throw .invalid([ConfigProblem(file: path, line: line, column: column, message: "the config file is not valid UTF-8")])
        }
        return try load(yaml: text, path: path, checkFiles: checkFiles, openFiles: openFiles)
    }

    /// Validates YAML text as if read from `path`: problems name `path`, and relative paths in
    /// it are resolved against `path`'s folder.
    public static func load(yaml: String, path: String, checkFiles: Bool = false,
                            openFiles: Bool = false) throws(ConfigError) -> DaemonConfig {
        if let problem = YAMLAliasLimit.problem(in: yaml, file: path) { throw .invalid([problem]) }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw .invalid([syntaxProblem(error, yaml: yaml, file: path)])
        }
        var validation = ConfigValidation(file: path, checkFiles: checkFiles, openFiles: checkFiles && openFiles)
        let config = validation.validate(root)
        guard let config, validation.problems.isEmpty else {
            throw .invalid(sorted(validation.problems))
        }
        return config
    }

    // MARK: Private

    /// Problems in file order; ties keep the order they were found in.
    private static func sorted(_ problems: [ConfigProblem]) -> [ConfigProblem] {
        problems.enumerated().sorted { lhs, rhs in
            let left = (lhs.element.line ?? 0, lhs.element.column ?? 0, lhs.offset)
            let right = (rhs.element.line ?? 0, rhs.element.column ?? 0, rhs.offset)
            return left < right
        }.map(\.element)
    }

    /// The 1-based line where block-mapping key `key`, first at `first`, appears again at the
    /// same indentation; nil when the mapping ends first (less indented content) or the key is
    /// written otherwise (quoted, flow style).
    static func repeatedKeyLine(_ key: String, first: Mark, in yaml: String) -> Int? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        let indent = first.column - 1
        guard first.line >= 1, indent >= 0 else { return nil }
        for index in first.line ..< lines.count {    // first.line is 1-based: this starts on the next line
            let line = lines[index]
            let content = line.drop { $0 == " " }
            if content.isEmpty || content.hasPrefix("#") { continue }
            let depth = line.count - content.count
            if depth < indent { return nil }
            if depth == indent, content.hasPrefix(key + ":") { return index + 1 }
        }
        return nil
    }

    /// Turns a Yams error into one located problem; libyaml's marks are already 1-based.
    private static func syntaxProblem(_ error: Error, yaml: String, file: String) -> ConfigProblem {
        func problem(_ mark: Mark, _ message: String) -> ConfigProblem {
            ConfigProblem(file: file, line: mark.line, column: mark.column, message: message)
        }
        guard let yamlError = error as? YamlError else {
            return ConfigProblem(file: file, line: 1, column: 1, message: "YAML error: \(error)")
        }
        switch yamlError {
        case .scanner(let context, let text, let mark, _), .parser(let context, let text, let mark, _),
             .composer(let context, let text, let mark, _):
            var message = "YAML syntax error: \(text)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return problem(mark, message)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            // Yams marks the first occurrence; the line to fix is usually the repeat.
            if duplicates.count == 1,
               let line = repeatedKeyLine(duplicates[0], first: context.mark, in: yaml) {
                return ConfigProblem(file: file, line: line, column: context.mark.column,
                                     message: "duplicate key \(keys) in the same mapping (first at line \(context.mark.line))")
            }
            return problem(context.mark, "duplicate key \(keys) in the same mapping")
        case .reader(let text, let offset, _, _):
            let (line, column) = position(ofCharacterOffset: offset ?? 0, in: yaml)
            return ConfigProblem(file: file, line: line, column: column, message: "YAML reader error: \(text)")
        default:
            return ConfigProblem(file: file, line: 1, column: 1, message: "YAML error: \(yamlError)")
        }
    }

    /// 1-based line and column of the `offset`-th character.
    private static func position(ofCharacterOffset offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1
        for character in text.prefix(offset) {
            if character == "\n" || character == "\r\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    /// 1-based line and column (in Unicode scalars, as libyaml counts) of the first byte
    /// sequence that is not UTF-8.
    private static func firstInvalidUTF8Position(in bytes: [UInt8]) -> (Int, Int) {
        for (index, lineBytes) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var parser = Unicode.UTF8.ForwardParser()
            var iterator = lineBytes.makeIterator()
            var column = 1
            while true {
                switch parser.parseScalar(from: &iterator) {
                case .valid: column += 1; continue
                case .error: return (index + 1, column)
                case .emptyInput: break
                }
                break
            }
        }
        return (1, 1)
    }
}
