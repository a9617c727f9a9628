import Testing
@testable import ReflexScheduler

@Test func explore() throws {
    let cal = Simulation.calibration(samples: 1000, scale: 1, seed: 1)
    let variants: [(Double, Int, Double, Int)] = [(0.3, 4, 16, 32), (0.15, 4, 16, 32), (0.5, 4, 16, 32), (0.3, 2, 16, 32), (0.3, 8, 16, 32), (0.3, 4, 4, 32), (0.3, 4, 64, 32), (0.3, 4, 16, 16), (0.3, 4, 16, 64)]
    for (g, hd, n0, m) in variants {
      ThresholdController.gain = g; ThresholdController.horizonDivisor = hd; ThresholdController.priorSamples = n0
      var all: [Double] = []
      for (target, hard) in [(0.5, 2.5), (0.3, 2.5), (0.7, 2.5), (0.5, 0.4), (0.4, 4.0)] {
      for seed in [UInt64(1), 2] {
        let budget = try Budget(averageFraction: target)
        var c = try ThresholdController(costs: Simulation.costs, calibration: cal, budget: budget,
                                        configuration: .init(mode: .online, resolveEvery: m, seed: seed))
        var rng = SplitMix64(seed: seed + 100)
        var worst = [0.0, 0.0, 0.0]
        for t in 0..<12000 {
            let scale = (4000..<8000).contains(t) ? hard : 1.0
            Simulation.step(&c, distances: Simulation.distances(scale: scale, rng: &rng))
            let phase = t / 4000, inPhase = t % 4000
            if inPhase >= 600 && t >= 600 {
                worst[phase] = max(worst[phase], abs(c.meanFraction / target - 1))
            }
        }
        all.append(contentsOf: worst.map { ($0 * 1000).rounded() / 10 })
      }
      }
      print("g \(g) H W/\(hd) n0 \(n0) M \(m): max \(all.max()!) mean \(all.reduce(0,+)/Double(all.count)) \(all)")
    }
}
