/// Stops a step early when the next segment would finish past its deadline, from per-segment
/// latencies measured by the caller.
///
/// Segment 0 runs the embeddings up to exit 1; segment i (1 ≤ i < exits) runs the blocks and head
/// from exit i to exit i+1; "finish" is the work after the last segment (the committing head run,
/// the reply). Each is estimated as a high quantile (default P99) of its last `window` latencies,
/// since the mean would let half the near-deadline steps miss, then widened by `marginFraction`.
///
/// What a per-segment quantile alone gets wrong, and the remedy:
/// - Stale deep segments: when the machine slows down, the deadline stops steps early, so the deep
///   segments stop running and keep their fast samples. Block segments do the same work per GFLOP,
///   so each is also estimated from all block segments' recent latency per GFLOP (a pool kept fresh
///   by segment 1, which runs whenever a step goes past exit 1), and the larger estimate is used.
/// - A sudden slowdown (another process takes the core): when a segment of the current step runs
///   past its own high quantile, the step's *pace* — that latency over the segment's median —
///   scales the remaining segments' estimates, so the very step in which the machine slows down
///   already plans with it.
/// - Cold start: until `minSamples` block segments have been measured, estimates are `coldFactor`
///   times what the measured segments' latency per GFLOP predicts (with nothing measured, the
///   step's own elapsed time per GFLOP so far). Cautious for a few steps, never "always stop at
///   exit 1"; and a block segment rarely run is estimated from the pool, not left cold forever.
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
    /// GFLOPs of each segment (segment 0 = exit 1's cost), for scaling between segments.
    public let segmentCosts: [Double]
    private var segments: [RecentQuantile]
    /// Latency per GFLOP of every block segment (1...), pooled.
    private var blockRate: RecentQuantile
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
        blockRate = RecentQuantile(capacity: configuration.window)
        finish = RecentQuantile(capacity: configuration.window)
    }

    /// Records a segment's latency as soon as it ran. Segment 0 starts a new step's pace.
    public mutating func record(segment: Int, latencyUs: Double) {
        guard segments.indices.contains(segment), latencyUs.isFinite, latencyUs >= 0 else { return }
        // Only a latency past the segment's own high quantile says "slower than usual"; ordinary
        // jitter must not make every step more cautious.
        let own = segments[segment]
        var ratio = 1.0
        if own.count >= configuration.minSamples, let high = own.quantile(configuration.quantile),
           let median = own.quantile(0.5), latencyUs > high, median > 0 {
            ratio = latencyUs / median
        }
        pace = segment == 0 ? ratio : max(pace, ratio)
        segments[segment].add(latencyUs)
        if segment > 0 { blockRate.add(latencyUs / segmentCosts[segment]) }
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
        let q = configuration.quantile, warm = configuration.minSamples
        let own = segments[segment]
        var estimate = own.count >= warm ? own.quantile(q)! : own.quantile(1) ?? 0
        if segment > 0 && blockRate.count >= warm {
            estimate = max(estimate, blockRate.quantile(q)! * segmentCosts[segment])
        } else if own.count < warm {
            // Nothing like it measured enough: the slowest latency per GFLOP seen anywhere (or this
            // step's so far), with room for what a few samples cannot show.
            var perGFLOP = segments.indices.compactMap { s in
                segments[s].quantile(1).map { $0 / segmentCosts[s] }
            }.max() ?? 0
            if perGFLOP == 0 && afterExit > 0 {
                perGFLOP = elapsedUs / segmentCosts[..<afterExit].reduce(0, +)
            }
            estimate = max(estimate, perGFLOP * segmentCosts[segment]) * configuration.coldFactor
        }
        // The step's pace scales the typical (median) latency: the high quantile already holds
        // the tail, and scaling it too would turn one scheduling hiccup into "stop now" at any deadline.
        let typical = own.count >= warm ? own.quantile(0.5)! : estimate
        return max(estimate, typical * pace) * (1 + configuration.marginFraction)
    }
}
