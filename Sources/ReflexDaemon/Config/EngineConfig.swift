/// The `engine` section.
public struct EngineConfig: Sendable, Equatable {
    /// Compute threads for one step, 1...256. Default 1: latency stays predictable when the
    /// robot's computer is busy with other work.
    public var threads: Int

    public init(threads: Int = 1) {
        self.threads = threads
    }
}
