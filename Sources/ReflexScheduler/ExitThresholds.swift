/// The action-consistency stop rule: after exit i, stop when the distance between exit i's and
/// exit i-1's actions is at most η_i. One η per loaded exit; the last loaded exit always stops.
public struct ExitThresholds: Sendable, Equatable {
    /// η per loaded exit, in order. `-infinity` = never stops on a threshold; the last is `+infinity`.
    public let values: [Double]

    /// `values.count` is the number of loaded exits; the last entry is forced to `+infinity`.
    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "at least one exit")
        var values = values
        values[values.count - 1] = .infinity
        self.values = values
    }

    /// Thresholds that never stop early: every step runs to the last loaded exit.
    public static func fullDepth(exits: Int) -> ExitThresholds {
        ExitThresholds(Array(repeating: -.infinity, count: exits))
    }

    /// How many exits are loaded; the last of them is the final one.
    public var exits: Int { values.count }

    /// Whether a step stops at `exit` (1-based) given the distance it measured there.
    /// NaN never stops on a threshold (a broken comparison must not look "consistent").
    public func stops(atExit exit: Int, distance: Float) -> Bool {
        precondition(exit >= 1 && exit <= values.count, "exit \(exit) outside 1...\(values.count)")
        if exit == values.count { return true }
        return Double(distance) <= values[exit - 1]
    }

    /// The values as the stats JSON shows them: finite η, or nil where no threshold applies
    /// (never stops on a threshold, or the last exit).
    public var reportable: [Double?] {
        values.map { $0.isFinite ? $0 : nil }
    }
}
