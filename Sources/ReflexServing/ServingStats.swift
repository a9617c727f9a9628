import ReflexScheduler

/// The counters `{"cmd":"stats"}` reports: real counts since start, and a window of latencies.
package struct ServingStats {
    package var steps = 0
    package var errors: [String: Int] = [:]
    package var exitHistogram: [Int]
    package var deadlineMisses = 0
    package var probes = 0
    package var reasons: [String: Int] = [:]
    /// Latencies (receipt to reply, µs) of the last `latencyCapacity` steps.
    private var latencies: [Double] = []
    private var next = 0
    package let latencyCapacity: Int

    package init(exits: Int, latencyCapacity: Int = 4096) {
        exitHistogram = Array(repeating: 0, count: exits)
        self.latencyCapacity = latencyCapacity
        latencies.reserveCapacity(latencyCapacity)
    }

    package mutating func countError(_ code: String) { errors[code, default: 0] += 1 }

    package mutating func recordStep(exit: Int, reason: String, totalUs: Double, missed: Bool, probe: Bool) {
        steps += 1
        exitHistogram[exit - 1] += 1
        reasons[reason, default: 0] += 1
        if missed { deadlineMisses += 1 }
        if probe { probes += 1 }
        if latencies.count < latencyCapacity { latencies.append(totalUs) } else { latencies[next] = totalUs }
        next = (next + 1) % latencyCapacity
    }

    /// p50, p99 and max of the recent latencies, whole microseconds.
    package var latencySummary: [String: Int] {
        guard !latencies.isEmpty else { return ["p50": 0, "p99": 0, "max": 0] }
        let s = latencies.sorted()
        func q(_ p: Double) -> Int { Int(Quantile.nearestRank(s, p)!) }
        return ["p50": q(0.5), "p99": q(0.99), "max": Int(s.last!)]
    }
}
