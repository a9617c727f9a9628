import Foundation
import ReflexServing

/// The control socket's replies (CONTRACT section 7) as types, written by one encoder: keys
/// sorted, an absent value written as JSON `null` (never left out), non-finite numbers refused.
enum ControlReply {
    /// `{"budget": {...}}`, `{"paused": true}`, `{"ok": true}`, stats, …: any reply object.
    static func json<Reply: Encodable>(_ reply: Reply) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(reply) else { return error("internal: reply not encodable") }
        return String(decoding: data, as: UTF8.self)
    }

    /// `{"error": "..."}`.
    static func error(_ message: String) -> String {
        json(["error": message])
    }

    /// The budget in force, as the config file and `{"cmd":"budget"}` spell it: exactly one of
    /// `average_fraction` / `average_gflops`, then `deadline_ms` and `memory_mb` (null: no cap).
    struct Budget: Encodable {
        let average: BudgetAverage
        let deadlineMs: Double?
        let memoryMB: Double?

        private enum Key: String, CodingKey {
            case averageFraction = "average_fraction", averageGflops = "average_gflops"
            case deadlineMs = "deadline_ms", memoryMB = "memory_mb"
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            switch average {
            case .fraction(let f): try c.encode(f, forKey: .averageFraction)
            case .gflops(let g): try c.encode(g, forKey: .averageGflops)
            }
            try c.encodeNullable(deadlineMs, forKey: .deadlineMs)
            try c.encodeNullable(memoryMB, forKey: .memoryMB)
        }
    }

    /// One robot's recent activity (`stats.robots`; see `RobotActivity`).
    struct Robot: Encodable {
        let steps: Int
        let deadlineMisses: Int
        let lastExit: Int
        let lastReason: String
        let meanExit: Double
        let latencyUs: [String: Int]
        let windowSteps: Int

        private enum CodingKeys: String, CodingKey {
            case steps, deadlineMisses = "deadline_misses", lastExit = "last_exit", lastReason = "last_reason"
            case meanExit = "mean_exit", latencyUs = "latency_us", windowSteps = "window_steps"
        }
    }

    /// Lines written and dropped by the step trace (`stats.trace`; null when tracing is off).
    struct Trace: Encodable {
        let written: Int
        let dropped: Int
    }

    /// `{"cmd":"stats"}` (CONTRACT section 7, and the keys OPERATIONS.md adds).
    struct Stats: Encodable {
        let steps: Int
        let errors: [String: Int]
        let exitHistogram: [Int]
        let windowSteps: Int
        let meanGflops: Double?
        let meanFraction: Double?
        let latencyUs: [String: Int]
        let deadlineMisses: Int
        let probes: Int
        let reasons: [String: Int]
        /// Per exit; null = never stops on a threshold.
        let thresholds: [Double?]
        let budget: Budget
        let loadedExits: Int
        let residentModelBytes: Int
        let sessions: Int
        let paused: Bool
        let scheduler: String
        let model: String
        let modelSHA256: String
        /// null when CURVE is off.
        let curveDenied: Int?
        let robots: [String: Robot]
        let metricsListen: String?
        let trace: Trace?

        private enum Key: String, CodingKey {
            case steps, errors, exitHistogram = "exit_histogram", windowSteps = "window_steps"
            case meanGflops = "mean_gflops", meanFraction = "mean_fraction", latencyUs = "latency_us"
            case deadlineMisses = "deadline_misses", probes, reasons, thresholds, budget
            case loadedExits = "loaded_exits", residentModelBytes = "resident_model_bytes", sessions, paused
            case scheduler, model, modelSHA256 = "model_sha256", curveDenied = "curve_denied", robots
            case metricsListen = "metrics_listen", trace
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(steps, forKey: .steps)
            try c.encode(errors, forKey: .errors)
            try c.encode(exitHistogram, forKey: .exitHistogram)
            try c.encode(windowSteps, forKey: .windowSteps)
            try c.encodeNullable(meanGflops, forKey: .meanGflops)
            try c.encodeNullable(meanFraction, forKey: .meanFraction)
            try c.encode(latencyUs, forKey: .latencyUs)
            try c.encode(deadlineMisses, forKey: .deadlineMisses)
            try c.encode(probes, forKey: .probes)
            try c.encode(reasons, forKey: .reasons)
            try c.encode(thresholds, forKey: .thresholds)
            try c.encode(budget, forKey: .budget)
            try c.encode(loadedExits, forKey: .loadedExits)
            try c.encode(residentModelBytes, forKey: .residentModelBytes)
            try c.encode(sessions, forKey: .sessions)
            try c.encode(paused, forKey: .paused)
            try c.encode(scheduler, forKey: .scheduler)
            try c.encode(model, forKey: .model)
            try c.encode(modelSHA256, forKey: .modelSHA256)
            try c.encodeNullable(curveDenied, forKey: .curveDenied)
            try c.encode(robots, forKey: .robots)
            try c.encodeNullable(metricsListen, forKey: .metricsListen)
            try c.encodeNullable(trace, forKey: .trace)
        }
    }
}

extension KeyedEncodingContainer {
    /// `value`, or JSON null when it is nil (the synthesised `encodeIfPresent` would leave the key out).
    mutating func encodeNullable<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
