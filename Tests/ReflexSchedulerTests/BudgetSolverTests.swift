import Foundation
import Testing
@testable import ReflexScheduler

/// Hand-computed cases: 3 exits costing 1, 2, 4 GFLOPs, 10 samples. With q ∝ λ^i the cumulative
/// shares are Q1 = 1/(1+λ+λ²) and Q2 = (1+λ)/(1+λ+λ²); k samples leave by exit i when k is the
/// rounding of 10·Q_i (half up). The solver returns the largest λ whose replayed cost meets the target.
@Suite struct BudgetSolverTests {
    let solver = try! BudgetSolver(costs: [1, 2, 4])

    /// dist1 = 0.1 ... 1.0, dist2 = the reverse order.
    let ramp: [[Float]] = (1...10).map { n in
        [Float(n) / 10, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05][n - 1], 0]
    }

    @Test func handCaseThreeOutAtExitOneFourAtExitTwo() throws {
        // Target 2.3 = (3·1 + 4·2 + 3·4)/10: Q1 → 3 samples (0.1, 0.2, 0.3), η1 = (0.3+0.4)/2;
        // survivors' dist2 sorted 0.05 0.1 0.2 0.3 | 0.4 0.5 0.6 → η2 = 0.35. That holds until
        // 10·Q2 falls below 6.5: 0.65λ² − 0.35λ − 0.35 = 0, λ = (0.35 + √1.0325)/1.3.
        let s = try solver.solve(targetGFLOPs: 2.3, samples: ramp)
        #expect(abs(s.thresholds.values[0] - 0.35) < 1e-6)
        #expect(abs(s.thresholds.values[1] - 0.35) < 1e-6)
        #expect(s.thresholds.values[2] == .infinity)
        #expect(zip(s.exitShares, [0.3, 0.4, 0.3]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(abs(s.expectedGFLOPs - 2.3) < 1e-12)
        #expect(abs(s.lambda - (0.35 + 1.0325.squareRoot()) / 1.3) < 1e-5)
        // Why replay: at this λ, Σ q_i·C_i says 2.383 — over the budget the thresholds really meet.
        let q = Replay.shares(logLambda: log(s.lambda), exits: 3)
        #expect(abs(zip(q, [1.0, 2, 4]).reduce(0) { $0 + $1.0 * $1.1 } - 2.383) < 1e-3)
    }

    @Test func handCaseTiesLetMoreOutThanTheirShare() throws {
        // Half the samples agree exactly at exit 1 (distance 0): any η1 ≥ 0 lets all five out.
        // Target 2.0: exit 1 takes 5, then 3 of the 5 survivors (dist2 0.15 0.25 0.35 | 0.45 0.5)
        // → η2 = 0.4, cost 1.9 (2.1 with two). Largest λ: 10·Q2 − 5 ≥ 2.5, i.e. Q2 = 0.75:
        // 0.75λ² − 0.25λ − 0.25 = 0, λ = (0.25 + √0.8125)/1.5, where q1 = 0.42 but the replay
        // gives exit 1 a share of 0.5.
        let d1: [Float] = [0, 0, 0, 0, 0, 0.5, 0.6, 0.7, 0.8, 0.9]
        let d2: [Float] = [0.05, 0.3, 0.1, 0.4, 0.2, 0.15, 0.25, 0.35, 0.45, 0.5]
        let s = try solver.solve(targetGFLOPs: 2.0, samples: (0..<10).map { [d1[$0], d2[$0], 0] })
        #expect(s.thresholds.values[0] == 0)
        #expect(abs(s.thresholds.values[1] - 0.4) < 1e-6)
        #expect(zip(s.exitShares, [0.5, 0.3, 0.2]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(abs(s.expectedGFLOPs - 1.9) < 1e-12)
        #expect(abs(s.lambda - (0.25 + 0.8125.squareRoot()) / 1.5) < 1e-5)
    }

    @Test func exitOnesCostSendsEverySampleOutAtExitOne() throws {
        let s = try solver.solve(targetGFLOPs: 1, samples: ramp)
        #expect(s.exitShares == [1, 0, 0])
        #expect(abs(s.thresholds.values[0] - 1.0) < 1e-6)  // the largest dist1
        #expect(s.expectedGFLOPs == 1)
    }

    @Test func targetAtOrAboveFullCostRunsFullDepth() throws {
        for target in [4.0, 9.0] {
            let s = try solver.solve(targetGFLOPs: target, samples: ramp)
            #expect(s.thresholds == .fullDepth(exits: 3))
            #expect(s.thresholds.values == [-.infinity, -.infinity, .infinity])
            #expect(s.exitShares == [0, 0, 1])
            #expect(s.expectedGFLOPs == 4)
            #expect(s.lambda == .infinity)
        }
    }

    @Test func belowExitOneIsInfeasible() {
        #expect(throws: SchedulerError.infeasible(target: 0.5, minimum: 1, fullCost: 4)) {
            try solver.solve(targetGFLOPs: 0.5, samples: ramp)
        }
    }

    @Test func fewerLoadedExitsSolveOnThePrefix() throws {
        // Two exits loaded: the cost of the full model no longer applies; 1.5 = half at each.
        let s = try solver.solve(targetGFLOPs: 1.5, samples: ramp, exits: 2)
        #expect(s.thresholds.exits == 2)
        #expect(s.exitShares == [0.5, 0.5])
        #expect(abs(s.thresholds.values[0] - 0.55) < 1e-6)
        #expect(try solver.solve(targetGFLOPs: 3, samples: ramp, exits: 2).thresholds == .fullDepth(exits: 2))
    }

    @Test func replayedCostNeverExceedsTheTargetAndRisesWithIt() throws {
        let calibration = Simulation.calibration(samples: 300, scale: 1, seed: 3)
        let sixExits = try BudgetSolver(costs: Simulation.costs)
        var previous = 0.0
        for step in 0...40 {
            let target = 0.30 + Double(step) * 0.02
            let s = try sixExits.solve(targetGFLOPs: target, samples: calibration)
            #expect(s.expectedGFLOPs <= target + 1e-12)
            #expect(s.expectedGFLOPs > target - 0.01)  // within ~one sample's worth of cost
            #expect(s.expectedGFLOPs >= previous)
            #expect(abs(replayedCost(s.thresholds, calibration) - s.expectedGFLOPs) < 1e-12)
            previous = s.expectedGFLOPs
        }
    }

    @Test func onlyRelativeWeightsMatter() throws {
        let plain = try solver.solve(targetGFLOPs: 2.3, samples: ramp)
        let scaled = try solver.solve(targetGFLOPs: 2.3, samples: ramp, weights: Array(repeating: 0.37, count: 10))
        #expect(plain.thresholds == scaled.thresholds)
        #expect(zip(plain.exitShares, scaled.exitShares).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    @Test func aHeavySampleMovesTheQuantile() throws {
        // Sample 1 (dist1 0.1) weighs 3 of 12: Q1 = 1/3 wants 4 of 12 — that sample and 0.2.
        var weights = Array(repeating: 1.0, count: 10)
        weights[0] = 3
        let s = try solver.solve(targetGFLOPs: 2.3, samples: ramp, weights: weights)
        #expect(s.expectedGFLOPs <= 2.3)
        let exitOneWeight = zip(ramp, weights).filter { s.thresholds.stops(atExit: 1, distance: $0.0[0]) }.map(\.1).reduce(0, +)
        #expect(abs(s.exitShares[0] - exitOneWeight / 12) < 1e-12)
    }

    @Test func badCostsAndDistancesAreRejected() {
        #expect(throws: SchedulerError.self) { try BudgetSolver(costs: [1, 1, 2]) }
        #expect(throws: SchedulerError.self) { try BudgetSolver(costs: []) }
        #expect(throws: SchedulerError.self) { try solver.solve(targetGFLOPs: 2, samples: [[.nan, 0, 0]]) }
        #expect(throws: SchedulerError.self) { try solver.solve(targetGFLOPs: 2, samples: [[0.1]]) }
        #expect(throws: SchedulerError.self) { try solver.solve(targetGFLOPs: 2, samples: []) }
    }

    /// The deployed rule applied to every sample, independently of the solver's code.
    func replayedCost(_ thresholds: ExitThresholds, _ samples: [[Float]]) -> Double {
        let total = samples.reduce(0.0) { sum, row in
            let exit = (1...thresholds.exits).first { thresholds.stops(atExit: $0, distance: row[$0 - 1]) }!
            return sum + Simulation.costs[exit - 1]
        }
        return total / Double(samples.count)
    }
}
