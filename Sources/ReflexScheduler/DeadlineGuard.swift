/// Stops a step early when the next segment would finish past its deadline, from per-segment
/// latencies measured by the caller.
///
/// Segment 0 runs the embeddings up to exit 1; segment i (1 ≤ i < exits) runs the blocks and head
/// from exit i to exit i+1; "finish" is the work after the last segment (the committing head run,
/// the reply). Each is estimated as a high quantile (default P99) of its last `window` latencies,
/// since the mean would let half the near-deadline steps miss, then widened by `marginFraction`.
///
/// Two things the quantile alone misses:
/// - A sudden slowdown (another process takes the core): the step's *pace* — its slowest ratio of
///   measured to median latency so far in this step — scales the remaining segments' medians, so
///   the very step in which the machine slows down already plans with it. Deeper segments that
///   rarely run keep old samples; pace covers them too.
/// - Cold start: a segment with fewer than `minSamples` samples is estimated as `coldFactor` times
///   the larger of its own maximum and what the warm segments' latency per GFLOP predicts for its
///   cost; with no sample at all, the step's own elapsed time per GFLOP so far. Cautious for a
///   few steps, never "always stop at exit 1".
public struct DeadlineGuard: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var quantile: Double
        public var window: Int
        public var marginFraction: Double
        /// Reserved per step for what is not measured (scheduling noise), microseconds.
        public var marginUs: Double
        public var minSamples: Int
        public var coldFactor: Double

        public init(quantile: Double = 0.99, window: Int = 256, marginFraction: Double = 0.05,
                    marginUs: Double = 50, minSamples: Int = 8, coldFactor: Double = 1.5) {
            self.quantile = quantile
            self.window = window
            self.marginFraction = marginFraction
            self.marginUs = marginUs
            self.minSamples = minSamples
            self.coldFactor = coldFactor
        }
    }

    public let configuration: Configuration
    /// GFLOPs of each segment (segment 0 = exit 1's cost), for cold-start scaling.
    public let segmentCosts: [Double]
    private var segments: [RecentQuantile]
    private var finish: RecentQuantile
    private var pace = 1.0

    /// `costs[i]`: cumulative GFLOPs of a step that stops at exit i+1 (strictly increasing).
    public init(costs: [Double], configuration: Configuration = .init()) throws {
        try BudgetSolver.validate(costs: costs)
        guard configuration.quantile > 0.5, configuration.quantile <= 1, configuration.window >= 1,
              configuration.marginFraction >= 0, configuration.marginUs >= 0,
              configuration.minSamples >= 1, configuration.coldFactor >= 1 else {
            throw SchedulerError.invalidConfiguration("deadline guard: \(configuration)")
        }
        self.configuration = configuration
        segmentCosts = costs.indices.map { $0 == 0 ? costs[0] : costs[$0] - costs[$0 - 1] }
        segments = Array(repeating: RecentQuantile(capacity: configuration.window), count: costs.count)
        finish = RecentQuantile(capacity: configuration.window)
    }

    /// Records a segment's latency as soon as it ran. Segment 0 starts a new step's pace.
    public mutating func record(segment: Int, latencyUs: Double) {
        guard segments.indices.contains(segment), latencyUs.isFinite, latencyUs >= 0 else { return }
        let ratio = segments[segment].quantile(0.5).map { $0 > 0 ? latencyUs / $0 : 1 } ?? 1
        pace = segment == 0 ? ratio : max(pace, ratio)
        segments[segment].add(latencyUs)
    }

    /// Records the work after the last segment of a step (not needed if `marginUs` covers it).
    public mutating func recordFinish(latencyUs: Double) {
        guard latencyUs.isFinite, latencyUs >= 0 else { return }
        finish.add(latencyUs)
    }

    /// Whether to stop at `exit` (1-based, just computed) rather than run the next segment.
    /// Without a deadline never; at the last exit always.
    public func shouldStop(afterExit exit: Int, elapsedUs: Double, deadlineUs: Double?) -> Bool {
        guard exit < segments.count else { return true }
        guard let deadlineUs else { return false }
        return predictedFinishUs(afterExit: exit, throughExit: exit + 1, elapsedUs: elapsedUs) > deadlineUs
    }

    /// When a step that has reached `afterExit` (0: nothing run yet) would be answered if it went
    /// on to `throughExit`: elapsed + the segments' estimates + finish + margin. The caller uses it
    /// to veto a probe the deadline leaves no room for.
    public func predictedFinishUs(afterExit: Int, throughExit: Int, elapsedUs: Double) -> Double {
        let from = max(afterExit, 0), to = min(throughExit, segments.count)
        var total = elapsedUs + configuration.marginUs + (finish.quantile(configuration.quantile) ?? 0)
        for segment in from..<max(from, to) {
            total += estimateUs(segment: segment, elapsedUs: elapsedUs, afterExit: from)
        }
        return total
    }

    /// The current estimate for one segment (what `shouldStop` adds), microseconds; 0 for a
    /// segment the model does not have.
    public func estimateUs(segment: Int) -> Double {
        guard segments.indices.contains(segment) else { return 0 }
        return estimateUs(segment: segment, elapsedUs: 0, afterExit: 0)
    }

    private func estimateUs(segment: Int, elapsedUs: Double, afterExit: Int) -> Double {
        let own = segments[segment]
        let widen = 1 + configuration.marginFraction
        if own.count >= configuration.minSamples, let high = own.quantile(configuration.quantile),
           let median = own.quantile(0.5) {
            return max(high, median * pace) * widen
        }
        // Cold: the warm segments' (or this step's) slowest latency per GFLOP, times this cost.
        var perGFLOP = segments.indices.compactMap { s -> Double? in
            segments[s].quantile(configuration.quantile).map { $0 / segmentCosts[s] }
        }.max() ?? 0
        if perGFLOP == 0 && afterExit > 0 {
            perGFLOP = elapsedUs / segmentCosts[..<afterExit].reduce(0, +)
        }
        let guess = max(own.quantile(1) ?? 0, perGFLOP * segmentCosts[segment]) * max(pace, 1)
        return guess * configuration.coldFactor * widen
    }
}
