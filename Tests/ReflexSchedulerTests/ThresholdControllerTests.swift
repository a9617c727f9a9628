import Testing
@testable import ReflexScheduler

/// The controller driven by synthetic distance streams (see Simulation): numbers only.
@Suite struct ThresholdControllerTests {
    let calibration = Simulation.calibration(samples: 1000, scale: 1, seed: 1)

    func controller(_ mode: ThresholdController.Mode, fraction: Double, seed: UInt64 = 7) throws -> ThresholdController {
        try ThresholdController(costs: Simulation.costs, calibration: calibration,
                                budget: Budget(averageFraction: fraction),
                                configuration: .init(mode: mode, window: 512, probeRate: 0.02, seed: seed))
    }

    /// Easy → hard (distances ×2.5) → easy, 4000 steps each, target 0.5 of full depth. Online mode,
    /// from 600 steps into each phase (window + adaptation), keeps the window's mean fraction within
    /// ±5% of the target at every step; fixed mode, calibrated on easy scenes, drifts out of it.
    @Test func onlineHoldsTheBudgetThroughDifficultyShiftsWhileFixedDrifts() throws {
        let target = 0.5
        var worst: [ThresholdController.Mode: [Double]] = [:]
        for mode in ThresholdController.Mode.allCases {
            var c = try controller(mode, fraction: target)
            var world = SplitMix64(seed: 99)
            var deviation = [0.0, 0.0, 0.0]
            for t in 0..<12_000 {
                let phase = t / 4000
                Simulation.step(&c, distances: Simulation.distances(scale: phase == 1 ? 2.5 : 1, rng: &world))
                if t % 4000 >= 600 {
                    deviation[phase] = max(deviation[phase], abs(c.meanFraction / target - 1))
                }
            }
            worst[mode] = deviation
            print("\(mode): worst |window mean / target − 1| per phase (easy, hard, easy): \(deviation), probes \(c.probes)")
        }
        #expect(worst[.online]!.allSatisfy { $0 <= 0.05 })
        #expect(worst[.fixed]![1] > 0.05)
    }

    /// Feedback alone can hold the mean on harder scenes, but with the wrong shape: it pushes
    /// steps to exit 1 and to full depth. Probes give the solver the new scenes' distances, so the
    /// exits used approach those of thresholds calibrated on the hard scenes themselves (oracle).
    @Test func probesRecoverTheShapeOfTheSolutionOnNewScenes() throws {
        let hardCalibration = Simulation.calibration(samples: 1000, scale: 2.5, seed: 2)
        func shares(_ calibration: [[Float]], _ mode: ThresholdController.Mode, probeRate: Double) throws -> [Double] {
            var c = try ThresholdController(costs: Simulation.costs, calibration: calibration,
                                            budget: Budget(averageFraction: 0.5),
                                            configuration: .init(mode: mode, probeRate: probeRate, seed: 1))
            var world = SplitMix64(seed: 101)
            var histogram = [Double](repeating: 0, count: 6)
            for t in 0..<8000 {
                let exit = Simulation.step(&c, distances: Simulation.distances(scale: 2.5, rng: &world))
                if t >= 2000 { histogram[exit - 1] += 1 / 6000 }
            }
            return histogram
        }
        func distance(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + abs($1.0 - $1.1) } / 2 }
        let oracle = try shares(hardCalibration, .fixed, probeRate: 0)
        let probed = try shares(calibration, .online, probeRate: 0.02)
        let unprobed = try shares(calibration, .online, probeRate: 0)
        print("exit shares on hard scenes — oracle \(oracle), online \(probed), online without probes \(unprobed)")
        #expect(distance(probed, oracle) < 0.08)
        #expect(distance(unprobed, oracle) > 2 * distance(probed, oracle))
    }

    @Test func aNewBudgetConvergesAgain() throws {
        var c = try controller(.online, fraction: 0.5)
        var world = SplitMix64(seed: 11)
        for (fraction, scale) in [(0.5, 1.0), (0.35, 1.0), (0.7, 2.5), (0.45, 2.5)] {
            try c.setBudget(Budget(averageFraction: fraction))
            var deviation = 0.0
            for t in 0..<3000 {
                Simulation.step(&c, distances: Simulation.distances(scale: scale, rng: &world))
                if t >= 600 { deviation = max(deviation, abs(c.meanFraction / fraction - 1)) }
            }
            print("budget \(fraction) at scale \(scale): worst deviation \(deviation)")
            #expect(deviation <= 0.05)
        }
    }

    @Test func aMemoryCapShortensThePlanAndTheBudgetStillHolds() throws {
        var c = try controller(.online, fraction: 0.5)
        var world = SplitMix64(seed: 12)
        for _ in 0..<1000 { Simulation.step(&c, distances: Simulation.distances(scale: 1, rng: &world)) }
        try c.setBudget(c.budget, loadedExits: 3)  // 0.55 GFLOPs still fits under exit 3's 0.62
        var deviation = 0.0
        for t in 0..<3000 {
            #expect(c.plan().thresholds.exits == 3)
            let exit = Simulation.step(&c, distances: Simulation.distances(scale: 1, rng: &world))
            #expect(exit <= 3)
            if t >= 600 { deviation = max(deviation, abs(c.meanFraction / 0.5 - 1)) }
        }
        #expect(deviation <= 0.05)
    }

    @Test func fixedModeKeepsTheCalibrationSolutionAndNeverProbes() throws {
        var c = try controller(.fixed, fraction: 0.5)
        let solved = try BudgetSolver(costs: Simulation.costs).solve(targetGFLOPs: 0.55, samples: calibration)
        var world = SplitMix64(seed: 13)
        for _ in 0..<2000 {
            #expect(c.plan() == .init(thresholds: solved.thresholds, probe: false))
            Simulation.step(&c, distances: Simulation.distances(scale: 2.5, rng: &world))
        }
        #expect(c.probes == 0)
    }

    @Test func fullBudgetRunsFullDepthWithoutProbes() throws {
        var c = try controller(.online, fraction: 1)
        var world = SplitMix64(seed: 14)
        for _ in 0..<500 {
            #expect(Simulation.step(&c, distances: Simulation.distances(scale: 1, rng: &world)) == 6)
        }
        #expect(c.probes == 0 && abs(c.meanFraction - 1) < 1e-12)
    }

    @Test func probesTakeTheirShareAndVetoedOnesAreNotSamples() throws {
        var c = try controller(.online, fraction: 0.5)
        var world = SplitMix64(seed: 15)
        var planned = 0
        for _ in 0..<10_000 {
            let plan = c.plan()
            if plan.probe { planned += 1 }
            // The caller vetoes every probe: the window must not hold any complete sample.
            let d = Simulation.distances(scale: 1, rng: &world)
            let exit = (1...6).first { plan.thresholds.stops(atExit: $0, distance: d[$0 - 1]) }!
            c.observe(exit: exit, distances: Array(d.prefix(exit)), probe: false, gflops: Simulation.costs[exit - 1])
        }
        #expect(abs(Double(planned) / 10_000 - 0.02) < 0.004)
        #expect(c.probes == 0 && c.probesInWindow == 0)
    }

    @Test func statsCountWhatWasObserved() throws {
        var c = try controller(.online, fraction: 0.5)
        c.observe(exit: 2, distances: [0.9, 0.1], probe: false, gflops: 0.46)
        c.observe(exit: 6, distances: [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], probe: true, gflops: 1.10)
        c.observe(exit: 9, distances: [], probe: false, gflops: 1)  // ignored: no such exit
        #expect(c.steps == 2 && c.stepsInWindow == 2)
        #expect(c.exitHistogram == [0, 1, 0, 0, 0, 1])
        #expect(c.probes == 1 && c.probesInWindow == 1)
        #expect(abs(c.meanGFLOPs - 0.78) < 1e-12)
        #expect(abs(c.meanFraction - 0.78 / 1.10) < 1e-12)
    }

    @Test func theSameSeedGivesTheSameDecisions() throws {
        func run(seed: UInt64) throws -> [ThresholdController.Plan] {
            var c = try controller(.online, fraction: 0.4, seed: seed)
            var world = SplitMix64(seed: 16)
            return try (0..<3000).map { t in
                if t == 1500 { try c.setBudget(Budget(averageFraction: 0.6)) }
                let plan = c.plan()
                let d = Simulation.distances(scale: t < 1000 ? 1 : 2, rng: &world)
                let exit = plan.probe ? 6 : (1...6).first { plan.thresholds.stops(atExit: $0, distance: d[$0 - 1]) }!
                c.observe(exit: exit, distances: Array(d.prefix(exit)), probe: plan.probe, gflops: Simulation.costs[exit - 1])
                return plan
            }
        }
        #expect(try run(seed: 1) == run(seed: 1))
        #expect(try run(seed: 1).map(\.probe) != run(seed: 2).map(\.probe))
    }

    @Test func anInfeasibleBudgetIsRefusedAndTheOldOneStays() throws {
        var c = try controller(.online, fraction: 0.5)
        #expect(throws: SchedulerError.self) { try c.setBudget(Budget(averageFraction: 0.2)) }
        #expect(c.budget == (try Budget(averageFraction: 0.5)))
    }
}
