import ReflexWire

/// What one served step did, for the metrics and the per-step trace (after its reply was sent).
package struct ServedStep {
    package let robot: String
    package let seq: UInt64?
    package let exit: Int
    package let reason: ExitReason
    package let probe: Bool
    /// The distance each exit up to `exit` saw.
    package let distances: ArraySlice<Float>
    /// The thresholds in force, per loaded exit.
    package let thresholds: [Double]
    /// Compute spent, GFLOPs and as a fraction of the full-depth cost.
    package let gflops: Double
    package let fraction: Double
    /// The average target and the realised window mean, fractions of the full-depth cost.
    package let targetFraction: Double
    package let realisedFraction: Double?
    /// The step's deadline (ms; nil = none) and whether the reply missed it.
    package let deadlineMs: Double?
    package let missed: Bool
    /// Microseconds: receipt to start, the engine, receipt to reply.
    package let queueUs: Double
    package let inferUs: Double
    package let totalUs: Double
}
