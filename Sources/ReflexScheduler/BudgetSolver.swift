/// DeeR-VLA's offline rule, solved instead of swept: exit shares q_i ∝ λ^i, thresholds as
/// successive quantiles of the survivors' distances, and λ found by bisection so that the mean
/// cost meets an average target.
///
/// The mean cost of a λ is measured by replaying the samples through the thresholds it gives,
/// not taken as Σ q_i·C_i: ties (many identical distances let more than q_i out at one η),
/// rounding on small sample sets (the online window holds few probes) and weighted samples all
/// make the realised shares differ from q, and the budget is about the thresholds we deploy.
public struct BudgetSolver: Sendable {
    public struct Solution: Sendable, Equatable {
        public let thresholds: ExitThresholds
        /// Share of the (weighted) samples answered at each loaded exit when replayed.
        public let exitShares: [Double]
        /// Mean cost of the replay, GFLOPs: the largest these samples can realise without
        /// exceeding the target (they move one sample, one exit at a time).
        public let expectedGFLOPs: Double
        /// The solved λ: 0 = everything at exit 1, +infinity = everything at full depth.
        public let lambda: Double
    }

    /// `costs[i]`: GFLOPs of a step that stops at exit i+1.
    public let costs: [Double]

    public init(costs: [Double]) throws {
        try Self.validate(costs: costs)
        self.costs = costs
    }

    /// Costs are cumulative GFLOPs per exit: positive, finite, strictly increasing.
    static func validate(costs: [Double]) throws {
        guard !costs.isEmpty else { throw SchedulerError.invalidCosts("no exits") }
        guard costs.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw SchedulerError.invalidCosts("every cost must be a positive number: \(costs)")
        }
        guard zip(costs, costs.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw SchedulerError.invalidCosts("costs must increase strictly with depth: \(costs)")
        }
    }

    /// Thresholds for the first `exits` exits (default: all) meeting `targetGFLOPs` on average.
    /// `samples[n][i]` is sample n's distance at exit i+1; only the first `exits - 1` columns are
    /// used (the last loaded exit always stops). `weights` default to 1 per sample.
    public func solve(targetGFLOPs target: Double, samples: [[Float]], weights: [Double]? = nil,
                      exits: Int? = nil) throws -> Solution {
        let k = try loaded(exits)
        if try fullDepthSuffices(target, exits: k) { return fullDepth(exits: k) }
        return try solve(targetGFLOPs: target, set: SampleSet(rows: samples, columns: k - 1, weights: weights), exits: k)
    }

    /// The same on a prepared sample set (the online controller keeps its calibration sorted).
    func solve(targetGFLOPs target: Double, set: SampleSet, exits: Int?) throws -> Solution {
        let k = try loaded(exits)
        if try fullDepthSuffices(target, exits: k) { return fullDepth(exits: k) }
        let replay = try Replay(costs: Array(costs[..<k]), set: set)
        let limit = target * (1 + 1e-12)  // a cost equal to the target, up to rounding, meets it

        // Cost rises with log λ (shares move to deeper exits). ±40 reaches "all at exit 1" and
        // "all at full depth" for any realistic sample count (it needs |log λ| > log 2N).
        var lo = -40.0, hi = 40.0
        var best = replay.run(logLambda: lo)
        if best.expectedGFLOPs > limit { return best }  // cannot happen: all out at exit 1 costs C_1
        if replay.run(logLambda: hi).expectedGFLOPs <= limit { return fullDepth(exits: k) }
        // Cost is a step function of λ; its steps are ~1/N apart in log λ, so 1e-6 resolves
        // every one of them for sample sets up to ~10^5.
        while hi - lo > 1e-6 {
            let mid = (lo + hi) / 2
            let trial = replay.run(logLambda: mid)
            if trial.expectedGFLOPs <= limit { lo = mid; best = trial } else { hi = mid }
        }
        return best
    }

    private func loaded(_ exits: Int?) throws -> Int {
        let k = exits ?? costs.count
        guard k >= 1 && k <= costs.count else {
            throw SchedulerError.invalidConfiguration("loaded exits \(k) outside 1...\(costs.count)")
        }
        return k
    }

    /// Validates the target; true when running every step to the last loaded exit meets it.
    private func fullDepthSuffices(_ target: Double, exits k: Int) throws -> Bool {
        guard target.isFinite else { throw SchedulerError.invalidBudget("target is \(target)") }
        if target < costs[0] * (1 - 1e-12) {
            throw SchedulerError.infeasible(target: target, minimum: costs[0], fullCost: costs[costs.count - 1])
        }
        return target >= costs[k - 1] || k == 1
    }

    private func fullDepth(exits k: Int) -> Solution {
        var shares = Array(repeating: 0.0, count: k)
        shares[k - 1] = 1
        return Solution(thresholds: .fullDepth(exits: k), exitShares: shares,
                        expectedGFLOPs: costs[k - 1], lambda: .infinity)
    }
}
