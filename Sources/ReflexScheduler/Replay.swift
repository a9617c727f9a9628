import Foundation  // exp only

/// One λ's thresholds and their replayed cost on a sample set: O(exits × samples) per λ.
struct Replay {
    let costs: [Double]
    let set: SampleSet
    let totalWeight: Double

    init(costs: [Double], set: SampleSet) throws {
        guard set.columns.count >= costs.count - 1 else {
            throw SchedulerError.invalidCalibration("samples have \(set.columns.count) distances, need \(costs.count - 1)")
        }
        self.costs = costs
        self.set = set
        totalWeight = set.weights.reduce(0, +)
        guard totalWeight > 0 else { throw SchedulerError.invalidCalibration("no samples") }
    }

    /// q_i ∝ λ^i for i = 1...exits, computed in logs so a wide bracket cannot overflow.
    static func shares(logLambda: Double, exits: Int) -> [Double] {
        let logs = (1...exits).map { Double($0) * logLambda }
        let top = logs.max()!
        let raw = logs.map { exp($0 - top) }
        let sum = raw.reduce(0, +)
        return raw.map { $0 / sum }
    }

    func run(logLambda: Double) -> BudgetSolver.Solution {
        let k = costs.count
        let q = Replay.shares(logLambda: logLambda, exits: k)
        var alive = Array(repeating: true, count: set.count)
        var exited = Array(repeating: 0.0, count: k)
        var exitedTotal = 0.0, cumulative = 0.0
        var eta = Array(repeating: Double.infinity, count: k)
        for i in 0..<(k - 1) {
            cumulative += q[i]
            // Weight to let out here so that the cumulative share out by exit i is Q_i.
            let want = cumulative * totalWeight - exitedTotal + 1e-9 * totalWeight
            let (threshold, out) = letOut(column: i, want: want, alive: &alive)
            eta[i] = threshold
            exited[i] = out
            exitedTotal += out
        }
        exited[k - 1] = totalWeight - exitedTotal
        let shares = exited.map { max(0, $0) / totalWeight }
        let mean = zip(shares, costs).reduce(0) { $0 + $1.0 * $1.1 }
        return BudgetSolver.Solution(thresholds: ExitThresholds(eta), exitShares: shares,
                                     expectedGFLOPs: mean, lambda: exp(logLambda))
    }

    /// Lets out the survivors with the smallest distances at exit i+1 until their weight is the
    /// closest to `want`, and returns η and the weight let out. η is the midpoint between the last
    /// survivor let out and the next, so new data is split half-way between the two; survivors
    /// tied with η leave too, as they would when deployed. Nobody out → -infinity; everybody out
    /// → the largest survivor distance (no survivor at all: +infinity).
    private func letOut(column i: Int, want: Double, alive: inout [Bool]) -> (Double, Double) {
        let column = set.columns[i], order = set.order[i], weights = set.weights
        var taken = 0.0
        var last: Double? = nil
        var position = 0
        while position < order.count {
            let n = order[position]
            if alive[n] {
                if taken + weights[n] / 2 > want { break }
                taken += weights[n]
                last = column[n]
                alive[n] = false
            }
            position += 1
        }
        guard position < order.count else { return (last ?? .infinity, taken) }
        guard let last else { return (-.infinity, taken) }
        let eta = (last + column[order[position]]) / 2
        while position < order.count, column[order[position]] <= eta {
            let n = order[position]
            if alive[n] {
                taken += weights[n]
                alive[n] = false
            }
            position += 1
        }
        return (eta, taken)
    }
}
