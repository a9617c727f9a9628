import Foundation
import ReflexEngine
import ReflexScheduler
import ReflexServing

/// `reflexctl bench scheduler`: replays recorded observations through the real engine and the
/// scheduler under several budgets and modes — the serving loop's step without the sockets —
/// and reports what each budget really got: mean fraction, exits, latency tail, deadline misses.
/// Optionally again with another process spinning on one core.
public struct SchedulerBench {
    public struct Trace {
        let images: NumpyFile, states: NumpyFile, episodes: NumpyFile, tasks: NumpyFile
        let instructions: [String]
        var count: Int { states.shape[0] }

        public init(directory: String) throws {
            images = try NumpyFile(path: directory + "/images.npy")
            states = try NumpyFile(path: directory + "/states.npy")
            episodes = try NumpyFile(path: directory + "/episodes.npy")
            tasks = try NumpyFile(path: directory + "/tasks.npy")
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/instructions.json"))
            instructions = (try JSONSerialization.jsonObject(with: data) as? [String]) ?? []
        }

        func float(_ f: NumpyFile, _ i: Int) -> Float {
            f.bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        }
    }

    public struct Setting {
        public var name: String
        public var fraction: Double
        public var mode: SchedulerMode
        public var deadlineMs: Double?
        public var hog: Bool
    }

    let model: String
    let trace: Trace
    let threads: Int
    let log: (String) -> Void
    /// Load the model only up to this exit (as a `memory_mb` cap would); nil: every exit.
    let upToExit: Int?
    private let clock = MonotonicClock()

    public init(model: String, trace: Trace, threads: Int, log: @escaping (String) -> Void, upToExit: Int? = nil) {
        self.model = model; self.trace = trace; self.threads = threads; self.log = log; self.upToExit = upToExit
    }

    /// One replay of the trace under one setting (no core hogged).
    func replayOnce(_ s: Setting) throws -> [String: Any] {
        let loaded = try LoadedModel(directory: model, upToExit: upToExit, maxMessageBytes: 1 << 30, threads: threads)
        return try replay(loaded, s, passes: 1)
    }

    /// The settings of the benchmark: budgets 1.0, 0.6, 0.4 and the lowest feasible, online and
    /// fixed, under the shipped 50 ms deadline; then a deadline below full depth's latency,
    /// without and with a core hogged.
    public func defaultSettings(minimumFraction: Double, tightDeadlineMs: Double) -> [Setting] {
        var s: [Setting] = []
        for (name, f) in [("1.0", 1.0), ("0.6", 0.6), ("0.4", 0.4), ("min", minimumFraction)] {
            for mode in [SchedulerMode.online, .fixed] where !(f == 1.0 && mode == .fixed) {
                s.append(Setting(name: name, fraction: f, mode: mode, deadlineMs: 50, hog: false))
            }
        }
        s.append(Setting(name: "1.0-tight", fraction: 1.0, mode: .online, deadlineMs: tightDeadlineMs, hog: false))
        s.append(Setting(name: "1.0-tight", fraction: 1.0, mode: .online, deadlineMs: tightDeadlineMs, hog: true))
        s.append(Setting(name: "0.4", fraction: 0.4, mode: .online, deadlineMs: 50, hog: true))
        return s
    }

    public func run(settings: [Setting]? = nil, passes: Int = 1) throws -> [[String: Any]] {
        let loaded = try LoadedModel(directory: model, upToExit: upToExit, maxMessageBytes: 1 << 30, threads: threads)
        let cameras = loaded.policy.manifest.cameras, frame = Array(trace.images.shape.dropFirst())
        guard cameras.count == 1, cameras[0].shape == frame else {
            throw EngineError.badInput("the trace's frames are \(frame), the model takes \(cameras.map(\.shape)): "
                + "make the trace for this model (`python -m reflex_metaworld.make_trace --model \(model)`)")
        }
        let costs = loaded.policy.cost.exitGFLOPs
        let minimum = (costs[0] / costs.last!) * 1.05
        let fullUs = try measureFullDepthMedian(loaded)
        log(String(format: "full-depth step %.0f µs (median); tight deadline %.2f ms", fullUs, fullUs * 0.7 / 1000))
        var cases: [[String: Any]] = []
        for s in settings ?? defaultSettings(minimumFraction: minimum, tightDeadlineMs: (fullUs * 0.7 / 10).rounded() / 100) {
            log("budget \(s.name) \(s.mode == .online ? "online" : "fixed") deadline \(s.deadlineMs.map { "\($0) ms" } ?? "none")\(s.hog ? ", one core hogged" : "")")
            let hog = s.hog ? try CoreHog() : nil
            defer { hog?.stop() }
            cases.append(try replay(loaded, s, passes: passes))
        }
        return cases
    }

    private func measureFullDepthMedian(_ m: LoadedModel) throws -> Double {
        var planner = try BudgetPlanner(cost: m.policy.cost, calibration: m.bundle.calibration,
                                        budget: BudgetConfig(), scheduler: SchedulerConfig())
        var rec = m.policy.makeState()
        var samples: [Double] = []
        for i in 0..<min(200, trace.count) {
            let t0 = clock.now()
            _ = try step(m, &planner, i, &rec, receipt: t0, deadlineUs: nil)
            samples.append(clock.microseconds(from: t0, to: clock.now()))
        }
        return LatencySummary(Array(samples.dropFirst(20))).median
    }

    private func step(_ m: LoadedModel, _ planner: inout BudgetPlanner, _ i: Int, _ rec: inout RecurrentState,
                      receipt: UInt64, deadlineUs: Double?) throws -> BudgetedStep.Outcome {
        let frame = trace.images.shape.dropFirst().reduce(1, *)
        let words = m.policy.tokenizer.tokenize(trace.instructions[Int(trace.float(trace.tasks, i))]).ids
        return try trace.images.bytes.withUnsafeBytes { img in
            try trace.states.bytes.withUnsafeBytes { st in
                let obs = Observation(image: UnsafeRawBufferPointer(rebasing: img[(i * frame)..<((i + 1) * frame)]),
                                      state: UnsafeRawBufferPointer(rebasing: st[(i * 16)..<((i + 1) * 16)]), words: words)
                return try BudgetedStep.run(model: m, planner: &planner, observation: obs, recurrent: &rec,
                                            receipt: receipt, start: receipt, deadlineUs: deadlineUs, clock: clock)
            }
        }
    }

    private func replay(_ m: LoadedModel, _ s: Setting, passes: Int) throws -> [String: Any] {
        let budget = BudgetConfig(average: .fraction(s.fraction), deadlineMs: s.deadlineMs, memoryMB: nil)
        var planner = try BudgetPlanner(cost: m.policy.cost, calibration: m.bundle.calibration, budget: budget,
                                        scheduler: SchedulerConfig(mode: s.mode, probeRate: 0.02, window: 512))
        let exits = m.exits, full = m.policy.cost.exitGFLOPs.last!
        var histogram = Array(repeating: 0, count: exits)
        var reasons: [String: Int] = [:]
        var latencies: [Double] = [], gflops: [Double] = []
        var misses = 0, probes = 0
        var rec = m.policy.makeState()
        var episode: Float = -1
        for pass in 0..<passes {
            for i in 0..<trace.count {
                let e = trace.float(trace.episodes, i) + Float(pass * 100_000)
                if e != episode { rec.reset(); episode = e }
                let t0 = clock.now()
                let o = try step(m, &planner, i, &rec, receipt: t0, deadlineUs: s.deadlineMs.map { $0 * 1000 })
                let us = clock.microseconds(from: t0, to: clock.now())
                let out = m.output
                histogram[out.exit - 1] += 1
                reasons[o.reason.rawValue, default: 0] += 1
                latencies.append(us)
                gflops.append(Double(out.flops) / 1e9)
                if let d = s.deadlineMs, us > d * 1000 { misses += 1 }
                if o.probe { probes += 1 }
            }
        }
        let lat = LatencySummary(latencies)
        let window = gflops.suffix(512)
        return [
            "budget": s.name, "mode": s.mode == .online ? "online" : "fixed", "target_fraction": s.fraction,
            "deadline_ms": s.deadlineMs ?? NSNull(), "hog": s.hog, "steps": latencies.count,
            "realised_fraction": gflops.reduce(0, +) / Double(gflops.count) / full,
            "realised_fraction_last_window": window.reduce(0, +) / Double(window.count) / full,
            "exit_histogram": histogram, "reasons": reasons, "probes": probes,
            "swift_us": lat.median, "swift_us_p99": lat.p99, "swift_us_p999": lat.p999, "max_us": lat.max,
            "deadline_misses": misses,
        ]
    }

    public static func table(_ cases: [[String: Any]]) -> String {
        var s = "budget     mode    deadline  hog  realised  exits                          p50_us   p99_us  p99.9_us  misses\n"
        for c in cases {
            let hist = (c["exit_histogram"] as? [Int] ?? []).map(String.init).joined(separator: "/")
            s += (c["budget"] as! String).padding(toLength: 10, withPad: " ", startingAt: 0) + " "
            s += (c["mode"] as! String).padding(toLength: 7, withPad: " ", startingAt: 0)
            let deadline = (c["deadline_ms"] as? Double).map { String(format: "%.2f", $0) } ?? "-"
            s += " " + String(repeating: " ", count: max(0, 8 - deadline.count)) + deadline
            s += "  " + ((c["hog"] as! Bool) ? "yes" : "no ") + String(format: "  %8.3f  ", c["realised_fraction"] as! Double)
            s += hist.padding(toLength: 30, withPad: " ", startingAt: 0)
            s += String(format: " %8.0f %8.0f %9.0f %7d\n", c["swift_us"] as! Double, c["swift_us_p99"] as! Double,
                        c["swift_us_p999"] as! Double, c["deadline_misses"] as! Int)
        }
        return s
    }
}

/// Another process spinning on one core, as a robot computer's other software would.
final class CoreHog {
    private let process = Process()
    init() throws {
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "while :; do :; done"]
        try process.run()
    }
    func stop() { process.terminate(); process.waitUntilExit() }
}
