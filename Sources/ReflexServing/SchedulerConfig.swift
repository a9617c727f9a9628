/// The `scheduler` section.
public struct SchedulerConfig: Sendable, Equatable {
    /// Default `online`.
    public var mode: SchedulerMode
    /// Share of steps run to full depth to keep the calibration honest, in [0, 1); only
    /// `online` uses it. Default 0.02 (the shipped value: 1 step in 50).
    public var probeRate: Double
    /// Steps the realised averages and the online solver look back over, 1...1,048,576.
    /// Default 512 (the shipped value).
    public var window: Int

    public init(mode: SchedulerMode = .online, probeRate: Double = 0.02, window: Int = 512) {
        self.mode = mode
        self.probeRate = probeRate
        self.window = window
    }
}
