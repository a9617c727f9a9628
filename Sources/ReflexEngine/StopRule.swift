/// What the engine tells a stop rule after computing an exit.
/// The buffers are valid only during the call.
public struct ExitPoint {
    /// 1-based exit just computed.
    public let exit: Int
    /// True at the deepest loaded exit: the step stops there whatever the rule answers.
    public let isLast: Bool
    /// RMS distance between this exit's tentative action and the previous one's (exit 1: the reference read's).
    public let distance: Float
    /// FLOPs spent so far in this step (equals the cost model's `exitFLOPs[exit-1]`).
    public let spentFLOPs: Int
    /// FLOPs of going on to the next exit (0 at the last loaded exit).
    public let nextSegmentFLOPs: Int
    /// This exit's and the previous read's tentative action chunks: H·A values, row-major `[H, A]`.
    public let action: UnsafeBufferPointer<Float>
    public let previousAction: UnsafeBufferPointer<Float>
    public let feature: UnsafeBufferPointer<Float>
    public let previousFeature: UnsafeBufferPointer<Float>
}

/// Decides, after each exit, whether the step stops there. The daemon's rule combines the
/// scheduler's thresholds, the deadline guard and probes; the engine only asks.
public protocol StopRule {
    mutating func shouldStop(at point: ExitPoint) -> Bool
}

/// DeeR's rule: stop at the first exit whose distance is at most its threshold η_i.
public struct ThresholdStopRule: StopRule {
    /// η per exit; `nil` (or a missing entry) never stops there.
    public var thresholds: [Float?]

    public init(thresholds: [Float?]) { self.thresholds = thresholds }

    public func shouldStop(at point: ExitPoint) -> Bool {
        guard point.exit - 1 < thresholds.count, let eta = thresholds[point.exit - 1] else { return false }
        return point.distance <= eta
    }
}

/// Always answers from one exit (or the deepest loaded one): forced-depth runs and benchmarks.
public struct FixedExitRule: StopRule {
    public var exit: Int
    public init(exit: Int) { self.exit = exit }
    public func shouldStop(at point: ExitPoint) -> Bool { point.exit >= exit }
}
