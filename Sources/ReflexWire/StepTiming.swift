/// Where a step's time went, in microseconds (the `timing_us` of an action reply), measured
/// by the daemon from the moment the request was received.
public struct StepTiming: Sendable, Equatable {
    /// Waiting before the engine started on it.
    public var queue: UInt64
    /// In the engine.
    public var infer: UInt64
    /// Receipt to reply.
    public var total: UInt64

    public init(queue: UInt64, infer: UInt64, total: UInt64) {
        self.queue = queue
        self.infer = infer
        self.total = total
    }
}
