import Testing
@testable import ReflexScheduler

@Test func explore() throws {
    let cal = Simulation.calibration(samples: 1000, scale: 1, seed: 1)
    let variants: [(Double, Int, Double, Int)] = [(0.5, 8, 16, 8), (0.5, 8, 16, 16), (0.4, 8, 16, 16), (0.7, 8, 16, 16), (0.5, 16, 16, 16), (0.3, 8, 16, 16)]
    for (w, pr) in [(512, 0.02), (128, 0.02), (2048, 0.02), (512, 0.1)] {
    for (g, hd, n0, m) in variants {
      ThresholdController.gain = g; ThresholdController.horizonDivisor = hd; ThresholdController.priorSamples = n0
      var all: [Double] = []
      for (target, hard) in [(0.5, 2.5), (0.3, 2.5), (0.7, 2.5), (0.5, 0.4), (0.4, 4.0)] {
      for seed in [UInt64(1), 2, 3, 4] {
        let budget = try Budget(averageFraction: target)
        var c = try ThresholdController(costs: Simulation.costs, calibration: cal, budget: budget,
                                        configuration: .init(mode: .online, window: w, probeRate: pr, resolveEvery: m, seed: seed))
        var rng = SplitMix64(seed: seed + 100)
        var worst = [0.0, 0.0, 0.0]
        for t in 0..<12000 {
            let scale = (4000..<8000).contains(t) ? hard : 1.0
            Simulation.step(&c, distances: Simulation.distances(scale: scale, rng: &rng))
            let phase = t / 4000, inPhase = t % 4000
            if inPhase >= max(600, w + 100) && t >= w {
                worst[phase] = max(worst[phase], abs(c.meanFraction / target - 1))
            }
        }
        all.append(contentsOf: worst.map { ($0 * 1000).rounded() / 10 })
      }
      }
      all.sort()
      print("W \(w) p \(pr) g \(g) H W/\(hd) n0 \(n0) M \(m): max \(all.max()!) p90 \(all[all.count * 9 / 10]) mean \((all.reduce(0,+)/Double(all.count) * 100).rounded() / 100)")
    }
    }
}
