import ReflexEngine
import ReflexScheduler
import ReflexWire

/// The stop rule of one served step: the scheduler's thresholds, a full-depth probe, the
/// deadline guard (fed with this step's segment latencies as they happen), the memory cap.
struct ServingStopRule: StopRule {
    let thresholds: ExitThresholds
    let probe: Bool
    let deadlineUs: Double?
    /// When the request was received: the deadline counts from there.
    let receipt: UInt64
    let totalExits: Int
    var deadlineGuard: DeadlineGuard
    let clock: any ServingClock
    private var lastMark: UInt64
    private(set) var reason: ExitReason = .last

    init(thresholds: ExitThresholds, probe: Bool, deadlineUs: Double?, receipt: UInt64, start: UInt64,
         totalExits: Int, deadlineGuard: DeadlineGuard, clock: any ServingClock) {
        self.thresholds = thresholds
        self.probe = probe
        self.deadlineUs = deadlineUs
        self.receipt = receipt
        self.totalExits = totalExits
        self.deadlineGuard = deadlineGuard
        self.clock = clock
        lastMark = start
    }

    mutating func shouldStop(at p: ExitPoint) -> Bool {
        let now = clock.now()
        deadlineGuard.record(segment: p.exit - 1, latencyUs: clock.microseconds(from: lastMark, to: now))
        lastMark = now
        // The thresholds cover the loaded exits; the last one's is +∞ (it always stops), so it
        // says nothing about why a step ends there.
        let thresholdSays = !probe && p.exit < thresholds.exits && thresholds.stops(atExit: p.exit, distance: p.distance)
        if p.isLast {
            reason = thresholdSays ? .threshold : (p.exit < totalExits ? .memory : .last)
            return true
        }
        if thresholdSays { reason = .threshold; return true }
        let elapsed = clock.microseconds(from: receipt, to: now)
        if deadlineGuard.shouldStop(afterExit: p.exit, elapsedUs: elapsed, deadlineUs: deadlineUs) {
            reason = .deadline
            return true
        }
        return false
    }
}
