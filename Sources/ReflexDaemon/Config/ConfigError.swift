/// The one error type of the config layer: everything found wrong, not only the first thing,
/// so an operator fixes a file in one round.
public enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid([ConfigProblem])

    public var problems: [ConfigProblem] {
        switch self {
        case .invalid(let problems): return problems
        }
    }

    /// One problem per line, as `reflexd --check-config` prints them.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
