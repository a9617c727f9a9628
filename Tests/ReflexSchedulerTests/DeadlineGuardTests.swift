import Foundation
import Testing
@testable import ReflexScheduler

/// The guard driven by simulated segment latencies: numbers only, no clock.
@Suite struct DeadlineGuardTests {
    /// Typical latency of each segment, µs: segment 0 (embeddings to exit 1), then 5 block segments.
    let typical: [Double] = [1000, 400, 400, 400, 400, 400]

    struct Outcome { var misses = 0, forced = 0, depth = [Int](repeating: 0, count: 6) }

    /// Runs `steps` steps that always want full depth (the harshest case for a deadline): each
    /// segment takes typical × slowdown × log-normal jitter (σ 0.1), 1% of segments spike ×1.3,
    /// and each request waited 0–300 µs in the queue. A miss: the real latencies of the chosen
    /// depth (plus the wait) pass the deadline; `forced` when the step stopped at exit 1.
    func simulate(deadlineUs: Double, steps: Int, warmUp: Int = 10,
                  slowdown: (Int) -> Double) throws -> Outcome {
        var guardian = try DeadlineGuard(costs: Simulation.costs)
        var rng = SplitMix64(seed: 5)
        var outcome = Outcome()
        for t in 0..<steps {
            func latency(_ segment: Int) -> Double {
                let spike = rng.nextUnit() < 0.01 ? 1.3 : 1
                return typical[segment] * slowdown(t) * spike * exp(0.1 * Simulation.normal(&rng))
            }
            var elapsed = rng.nextUnit() * 300
            var exit = 0
            repeat {
                let l = latency(exit)
                guardian.record(segment: exit, latencyUs: l)
                elapsed += l
                exit += 1
            } while exit < 6 && !guardian.shouldStop(afterExit: exit, elapsedUs: elapsed, deadlineUs: deadlineUs)
            outcome.depth[exit - 1] += 1
            if elapsed > deadlineUs && t >= warmUp {
                outcome.misses += 1
                if exit == 1 { outcome.forced += 1 }
            }
        }
        return outcome
    }

    @Test func missesStayUnderOnePerMilleThroughJitterAndASlowdown() throws {
        // 3.5 ms: full depth (~3.15 ms) mostly fits before the slowdown; at ×2 from step 10 000
        // only about two exits do.
        let steps = 20_000
        let o = try simulate(deadlineUs: 3500, steps: steps) { $0 >= steps / 2 ? 2 : 1 }
        print("deadline 3.5 ms, ×2 from step 10000: misses \(o.misses)/\(steps) (forced at exit 1: \(o.forced)), exits \(o.depth)")
        #expect(Double(o.misses) <= 0.001 * Double(steps))
        #expect(o.depth[5] > 2000 && o.depth[1] > 2000)  // deep when it can, shallow when it must
    }

    @Test func aSlowdownThatComesAndGoesIsHeldToo() throws {
        // Another process hogs the core for 300 steps in every 1000 (×1.8).
        let steps = 20_000
        let o = try simulate(deadlineUs: 3500, steps: steps) { $0 % 1000 >= 700 ? 1.8 : 1 }
        print("deadline 3.5 ms, ×1.8 hog 30% of the time: misses \(o.misses)/\(steps) (forced: \(o.forced)), exits \(o.depth)")
        #expect(Double(o.misses) <= 0.001 * Double(steps))
    }

    @Test func whenNothingFitsExitOneStillAnswersAndEveryStepIsAMiss() throws {
        let o = try simulate(deadlineUs: 800, steps: 1000) { _ in 1 }
        #expect(o.depth[0] == 1000)
        #expect(o.misses == 990 && o.forced == 990)
    }

    @Test func withoutADeadlineItNeverStopsBeforeTheLastExit() throws {
        var guardian = try DeadlineGuard(costs: Simulation.costs)
        guardian.record(segment: 0, latencyUs: 1e9)
        #expect(!guardian.shouldStop(afterExit: 1, elapsedUs: 1e12, deadlineUs: nil))
        #expect(guardian.shouldStop(afterExit: 6, elapsedUs: 0, deadlineUs: nil))
    }

    @Test func coldStartScalesTheFirstSegmentByCostCautiously() throws {
        var guardian = try DeadlineGuard(costs: Simulation.costs)
        guardian.record(segment: 0, latencyUs: 1500)  // 0.30 GFLOPs → 5000 µs per GFLOP
        // Segment 1 (0.16 GFLOPs), never seen: 800 µs × coldFactor 1.5 × (1 + 5%) = 1260 µs.
        #expect(abs(guardian.estimateUs(segment: 1) - 1260) < 1e-6)
        #expect(!guardian.shouldStop(afterExit: 1, elapsedUs: 1500, deadlineUs: 2900))
        #expect(guardian.shouldStop(afterExit: 1, elapsedUs: 1500, deadlineUs: 2800))
    }

    @Test func warmEstimatesAreTheP99PlusMargin() throws {
        var guardian = try DeadlineGuard(costs: Simulation.costs)
        for v in 1...200 { guardian.record(segment: 2, latencyUs: Double(v)) }
        guardian.record(segment: 0, latencyUs: 0)  // a new step with no pace of its own
        #expect(abs(guardian.estimateUs(segment: 2) - 198 * 1.05) < 1e-9)  // nearest rank: ⌈0.99·200⌉
    }

    @Test func aSlowFirstSegmentRaisesTheRestOfThatStep() throws {
        var guardian = try DeadlineGuard(costs: Simulation.costs)
        for _ in 0..<50 {
            guardian.record(segment: 0, latencyUs: 1000)
            guardian.record(segment: 1, latencyUs: 400)
        }
        guardian.record(segment: 0, latencyUs: 1000)  // within its usual range: no change
        #expect(abs(guardian.estimateUs(segment: 1) - 400 * 1.05) < 1e-9)
        guardian.record(segment: 0, latencyUs: 2000)  // past its P99: this step runs at half speed
        #expect(abs(guardian.estimateUs(segment: 1) - 800 * 1.05) < 1e-9)
    }

    @Test func aRarelyRunDeepSegmentFollowsTheOthers() throws {
        var guardian = try DeadlineGuard(costs: Simulation.costs)
        for _ in 0..<50 { guardian.record(segment: 4, latencyUs: 400) }   // measured while fast
        for _ in 0..<300 { guardian.record(segment: 1, latencyUs: 800) }  // then only segment 1 runs, slower
        guardian.record(segment: 0, latencyUs: 0)
        #expect(abs(guardian.estimateUs(segment: 4) - 800 * 1.05) < 1e-9)
    }

    @Test func recentQuantileForgetsOldValues() {
        var q = RecentQuantile(capacity: 4)
        for v in [9.0, 1, 2, 3, 4] { q.add(v) }
        #expect(q.sorted == [1, 2, 3, 4])
        #expect(q.quantile(0.99) == 4 && q.quantile(0.5) == 2)
    }
}
