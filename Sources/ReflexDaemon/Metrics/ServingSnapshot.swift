/// The serving loop's state that the gauges show, taken on the serving thread.
struct ServingSnapshot {
    /// Average compute target as a fraction of the full-depth cost, and in GFLOPs per step.
    var targetFraction: Double
    var targetGFLOPs: Double
    /// Mean compute per step over the scheduler window (nil before the first step).
    var realisedFraction: Double?
    var realisedGFLOPs: Double?
    var windowSteps: Int
    /// The budget's deadline (milliseconds) and memory cap (MiB); nil = none.
    var deadlineMs: Double?
    var memoryMB: Double?
    /// Per exit; nil = never stops there on a threshold (or not loaded).
    var thresholds: [Double?]
    /// Exits the model has, and how many are resident.
    var exits: Int
    var loadedExits: Int
    var residentBytes: Int
    var sessions: Int
    var paused: Bool
    var queued: Int
    /// Counts since start (the metrics turn them into counter increments).
    var curveDenials: Int
    var traceDropped: Int
    var model: String
    var modelSHA256: String
}
