import ReflexScheduler
/// Median and tail of a set of timings (microseconds). Benchmarks quote medians and ratios.
public struct LatencySummary: Sendable {
    public let median: Double
    public let p99: Double
    public let p999: Double
    public let max: Double
    public let count: Int

    public init(_ samples: [Double]) {
        let s = samples.sorted()
        count = s.count
        func q(_ p: Double) -> Double { Quantile.nearestRank(s, p) ?? 0 }
        median = q(0.5); p99 = q(0.99); p999 = q(0.999); max = s.last ?? 0
    }
}
