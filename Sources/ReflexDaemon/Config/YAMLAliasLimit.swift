/// Refuses a config text with more YAML aliases (`*name`) than any config needs, before Yams
/// reads it.
///
/// Each alias is a copy of the node it names, and Yams hashes every mapping key in full to find
/// duplicates, so an alias to a nest of aliases used as a key ("billion laughs") costs time
/// exponential in the number of aliases: 72 of them kept `--check-config`, start-up and a SIGHUP
/// reload busy for hours. A reflexd config has no use for aliases; `limit` leaves room for
/// those who like them, and bounds the worst case to about 3^(limit/3) copies.
enum YAMLAliasLimit {
    static let limit = 24

    /// The problem to report when `yaml` has more than `limit` aliases, else nil. Counted
    /// without parsing, so it over-counts rather than miss one: every `*` that could start an
    /// alias token (at the start of a line or after a blank, `[`, `{`, `,` or `:`) counts, except
    /// on lines that are comments as a whole (such a line holds no alias, whether it is a
    /// comment or the inside of a multi-line scalar).
    static func problem(in yaml: String, file: String) -> ConfigProblem? {
        var count = 0
        var line = 1
        var column = 0  // in Unicode scalars, as libyaml counts
        var previous: Unicode.Scalar = "\n"
        var inCommentLine = false
        var lineHasContent = false
        for scalar in yaml.unicodeScalars {
            column += 1
            switch scalar {
            case "\n", "\r":
                if !(scalar == "\n" && previous == "\r") { line += 1 }
                column = 0
                inCommentLine = false
                lineHasContent = false
            case " ", "\t":
                break
            default:
                if !lineHasContent {
                    lineHasContent = true
                    inCommentLine = scalar == "#"
                }
                if scalar == "*", !inCommentLine, canPrecedeAlias(previous) {
                    count += 1
                    if count > limit {
                        return ConfigProblem(
                            file: file, line: line, column: column,
                            message: "more than \(limit) YAML aliases (*name); a reflexd config needs none, and each "
                                + "one copies a whole node, so the file is refused before it is read")
                    }
                }
            }
            previous = scalar
        }
        return nil
    }

    private static func canPrecedeAlias(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\n", "\r", " ", "\t", "[", "{", ",", ":", "\u{FEFF}": return true
        default: return false
        }
    }
}
