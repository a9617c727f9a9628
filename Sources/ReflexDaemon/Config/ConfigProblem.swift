/// One thing wrong with a config, located in its file when it came from one.
///
/// Rendered `FILE:LINE:COLUMN: message` (the form editors and CI annotate), or just the
/// message for live updates that have no file (`budget.deadline_ms: must be > 0, got 0`).
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// The config file as the user named it; nil for updates over the control socket.
    public var file: String?
    /// 1-based line, or nil without a file.
    public var line: Int?
    /// 1-based column (in Unicode scalars, as libyaml counts), or nil without a file.
    public var column: Int?
    /// Starts with the key path the problem is about, e.g. `budget.average_fraction: ...`.
    public var message: String

    public init(file: String? = nil, line: Int? = nil, column: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        guard let file else { return message }
        return "\(file):\(line ?? 1):\(column ?? 1): \(message)"
    }
}
