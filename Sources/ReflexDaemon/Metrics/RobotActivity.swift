import ReflexScheduler
import ReflexWire
/// Recent activity of each robot with a session, for the `robots` section of the control
/// socket's `stats` and `reflexctl top`. Bounded: one entry per session (`limits.max_sessions`),
/// each with a fixed window of its last steps.
struct RobotActivity {
    struct Robot {
        var steps = 0
        var deadlineMisses = 0
        var lastExit = 0
        var lastReason = ""
        /// The last `window` steps: total latency (µs) and exit, oldest overwritten first
        /// (5 bytes a step, grown as steps come).
        var latenciesUs: [Float] = []
        var exits: [UInt8] = []
        var next = 0
    }

    let window: Int
    private(set) var robots: [String: Robot] = [:]

    /// - Parameter window: steps per robot that `mean_exit` and the latency percentiles are over.
    init(window: Int = 256) { self.window = window }

    mutating func record(robot: String, exit: Int, reason: ExitReason, totalUs: Double, missed: Bool) {
        if robots[robot] == nil { robots[robot] = Robot() }
        let w = window
        update(&robots[robot]!)
        func update(_ r: inout Robot) {
            r.steps += 1
            if missed { r.deadlineMisses += 1 }
            r.lastExit = exit
            r.lastReason = reason.rawValue
            if r.latenciesUs.count < w {
                r.latenciesUs.append(Float(totalUs))
                r.exits.append(UInt8(clamping: exit))
            } else {
                r.latenciesUs[r.next] = Float(totalUs)
                r.exits[r.next] = UInt8(clamping: exit)
            }
            r.next = (r.next + 1) % w
        }
    }

    mutating func remove(_ robot: String) { robots.removeValue(forKey: robot) }

    mutating func removeAll() { robots.removeAll() }

    /// Per robot: steps, deadline misses, last exit and reason, mean exit and latency p50/p99
    /// (whole microseconds) over its last `window` steps.
    var statsReply: [String: ControlReply.Robot] {
        robots.mapValues { r in
            let sorted = r.latenciesUs.sorted()
            func q(_ p: Double) -> Int { Quantile.nearestRank(sorted, p).map { Int($0) } ?? 0 }
            return ControlReply.Robot(
                steps: r.steps, deadlineMisses: r.deadlineMisses, lastExit: r.lastExit, lastReason: r.lastReason,
                meanExit: r.exits.isEmpty ? 0 : Double(r.exits.reduce(0) { $0 + Int($1) }) / Double(r.exits.count),
                latencyUs: ["p50": q(0.5), "p99": q(0.99)], windowSteps: r.exits.count)
        }
    }
}
