/// Everything the scheduler refuses, with a message an operator can act on.
public enum SchedulerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Per-exit costs must be positive, finite and strictly increasing.
    case invalidCosts(String)
    /// The calibration distances do not fit the model (width, NaN, no samples).
    case invalidCalibration(String)
    /// A budget key has a value that cannot mean anything (negative, NaN, both averages given).
    case invalidBudget(String)
    /// The average target (GFLOPs) is below exit 1's cost: even answering every step from exit 1
    /// spends more. `fullCost` is the full-depth cost, so the message can speak in fractions too.
    case infeasible(target: Double, minimum: Double, fullCost: Double)
    /// `memory_mb` cannot hold even exit 1's resident bytes.
    case memoryTooSmall(capMB: Double, firstExitBytes: Int)
    /// A scheduler setting is out of range (window, probe rate, loaded exits, ...).
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .invalidCosts(let why): return "invalid exit costs: \(why)"
        case .invalidCalibration(let why): return "invalid calibration data: \(why)"
        case .invalidBudget(let why): return "invalid budget: \(why)"
        case let .infeasible(target, minimum, full):
            return "average budget \(format(target)) GFLOPs (fraction \(format(target / full))) is below "
                + "the cost of exit 1, \(format(minimum)) GFLOPs (fraction \(format(minimum / full))): "
                + "no schedule can meet it; raise average_fraction to at least \(format(minimum / full, up: true)) "
                + "or average_gflops to at least \(format(minimum, up: true))"
        case let .memoryTooSmall(capMB, bytes):
            return "memory_mb \(format(capMB)) MiB cannot hold exit 1, which needs "
                + "\(bytes) bytes (\(format(Double(bytes) / 1_048_576)) MiB)"
        case .invalidConfiguration(let why): return "invalid scheduler setting: \(why)"
        }
    }
}

/// Four decimals: enough for an operator, short in a log line. A minimum is rounded up, so that
/// the value the message suggests is itself accepted.
func format(_ x: Double, up: Bool = false) -> String {
    guard x.isFinite else { return "\(x)" }
    return "\((x * 10_000).rounded(up ? .up : .toNearestOrAwayFromZero) / 10_000)"
}
