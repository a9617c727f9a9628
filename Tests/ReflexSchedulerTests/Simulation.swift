import Foundation
@testable import ReflexScheduler

/// Synthetic worlds for the simulation tests: numbers only, seeded, no clocks.
enum Simulation {
    /// Six exits; exit 1 already carries the vision and token cost, as in the default model.
    static let costs: [Double] = [0.30, 0.46, 0.62, 0.78, 0.94, 1.10]

    /// Distances at the exits of one step. A step's difficulty h is log-normal; deeper exits
    /// agree more (×0.55 per exit) with per-exit noise; `scale` is how hard the scenes are.
    static func distances(scale: Double, exits: Int = costs.count, rng: inout SplitMix64) -> [Float] {
        let h = exp(0.5 * normal(&rng))
        return (0..<exits).map { i in Float(scale * h * pow(0.55, Double(i)) * exp(0.35 * normal(&rng))) }
    }

    static func calibration(samples: Int, scale: Double, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        return (0..<samples).map { _ in distances(scale: scale, rng: &rng) }
    }

    static func normal(_ rng: inout SplitMix64) -> Double {
        let u = max(rng.nextUnit(), 1e-300), v = rng.nextUnit()
        return sqrt(-2 * log(u)) * cos(2 * .pi * v)
    }

    /// One step as the daemon runs it: exit at the first threshold stop unless probing.
    @discardableResult
    static func step(_ controller: inout ThresholdController, distances: [Float]) -> Int {
        let plan = controller.plan()
        var exit = plan.thresholds.exits
        if !plan.probe {
            exit = (1...plan.thresholds.exits).first {
                plan.thresholds.stops(atExit: $0, distance: distances[$0 - 1])
            }!
        }
        controller.observe(exit: exit, distances: Array(distances.prefix(exit)),
                           probe: plan.probe, gflops: controller.costs[exit - 1])
        return exit
    }
}
