import ReflexWire
internal import Prometheus

/// reflexd's Prometheus metrics (docs/OPERATIONS.md lists them). The serving thread records
/// into them; the HTTP endpoint renders `registry` on its own threads. Each metric takes its own
/// short lock, so a scrape never waits for a step and a step never waits for a slow scraper.
final class DaemonMetrics {
    let registry = PrometheusCollectorRegistry()

    private var steps: [[Counter]]  // [exit - 1][reason]; grows if a reload brings a deeper model
    private let errors: [String: Counter]
    private let probes, misses, curveDenials, traceDropped: Counter
    private let queue, infer, total: ValueHistogram
    private let targetFraction, targetGFLOPs, realisedFraction, realisedGFLOPs, windowSteps: Gauge
    private let deadline, memoryCap, loadedExits, modelExits, residentBytes, sessions, paused, queued: Gauge
    private var thresholds: [Gauge?]
    private var robotSteps: [String: (steps: Counter, misses: Counter)] = [:]
    private var modelInfo: (key: String, gauge: Gauge)?
    private var lastCurveDenials = 0, lastTraceDropped = 0

    /// - Parameters:
    ///   - exits: the model's exits (loaded or not).
    ///   - deadlineMs: the deadline at start, milliseconds; the latency buckets are finest around it
    ///     (around 50 ms when there is none).
    init(exits: Int, deadlineMs: Double?) {
        let buckets = Self.buckets(deadlineSeconds: (deadlineMs ?? 50) / 1000)
        let r = registry
        steps = []
        thresholds = []
        var errors: [String: Counter] = [:]
        for code in WireErrorCode.allCases {
            errors[code.rawValue] = r.makeCounter(descriptor: named("reflexd_request_errors_total", "Requests answered with an error reply, by error code."), labels: [("code", code.rawValue)])
        }
        self.errors = errors
        probes = r.makeCounter(descriptor: named("reflexd_probe_steps_total", "Steps run to full depth to keep the calibration honest."))
        misses = r.makeCounter(descriptor: named("reflexd_deadline_misses_total", "Steps whose reply left later than their deadline."))
        curveDenials = r.makeCounter(descriptor: named("reflexd_curve_denials_total", "CURVE handshakes refused (unknown client key)."))
        traceDropped = r.makeCounter(descriptor: named("reflexd_trace_dropped_lines_total", "Trace lines dropped because the trace writer fell behind."))
        let latency = { (stage: String) -> ValueHistogram in
            r.makeValueHistogram(
                descriptor: named("reflexd_step_duration_seconds",
                                  "Step time in seconds by stage: queue (receipt to start), infer (engine), total (receipt to reply)."),
                labels: [("stage", stage)], buckets: buckets)
        }
        queue = latency("queue")
        infer = latency("infer")
        total = latency("total")
        targetFraction = r.makeGauge(descriptor: named("reflexd_budget_target_fraction", "Average compute target, as a fraction of the full-depth cost."))
        targetGFLOPs = r.makeGauge(descriptor: named("reflexd_budget_target_gflops", "Average compute target per step, GFLOPs."))
        realisedFraction = r.makeGauge(descriptor: named("reflexd_budget_realised_fraction", "Mean compute per step over the scheduler window, as a fraction of the full-depth cost."))
        realisedGFLOPs = r.makeGauge(descriptor: named("reflexd_budget_realised_gflops", "Mean compute per step over the scheduler window, GFLOPs."))
        windowSteps = r.makeGauge(descriptor: named("reflexd_budget_window_steps", "Steps in the scheduler window the realised means are over."))
        deadline = r.makeGauge(descriptor: named("reflexd_budget_deadline_seconds", "Per-step deadline in seconds (0 = none)."))
        memoryCap = r.makeGauge(descriptor: named("reflexd_budget_memory_bytes", "Cap on resident model memory in bytes (0 = none)."))
        loadedExits = r.makeGauge(descriptor: named("reflexd_loaded_exits", "Exits resident under the memory cap."))
        modelExits = r.makeGauge(descriptor: named("reflexd_model_exits", "Exits the model has, loaded or not."))
        residentBytes = r.makeGauge(descriptor: named("reflexd_resident_model_bytes", "Model bytes resident in memory."))
        sessions = r.makeGauge(descriptor: named("reflexd_sessions", "Robots with a session."))
        paused = r.makeGauge(descriptor: named("reflexd_paused", "1 while the operator has paused the daemon, else 0."))
        queued = r.makeGauge(descriptor: named("reflexd_queued_steps", "Steps waiting to be served."))
        let arch: String
        #if arch(x86_64)
        arch = "x86_64"
        #elseif arch(arm64)
        arch = "aarch64"
        #else
        arch = "other"
        #endif
        r.makeGauge(descriptor: named("reflexd_build_info", "Build of the running reflexd (value 1)."), labels: [("version", ReflexVersion.string), ("arch", arch)]).set(1.0)
        modelExits.set(Double(exits))
        grow(exits: exits)
    }

    /// Series for exits 1...`exits` (all stop reasons, from 0), so that rates exist before the first step.
    private func grow(exits: Int) {
        while steps.count < exits {
            let exit = steps.count + 1
            steps.append(ExitReason.allCases.map { reason in
                registry.makeCounter(
                    descriptor: named("reflexd_steps_total", "Steps answered with an action, by the exit that answered and why it stopped there."),
                    labels: [("exit", "\(exit)"), ("reason", reason.rawValue)])
            })
            thresholds.append(nil)
        }
    }

    /// One served step. Times in microseconds, as the serving loop measures them.
    func recordStep(robot: String, exit: Int, reason: ExitReason, probe: Bool, missed: Bool,
                    queueUs: Double, inferUs: Double, totalUs: Double) {
        if exit > steps.count { grow(exits: exit) }
        steps[exit - 1][Self.reasonIndex(reason)].increment()
        if probe { probes.increment() }
        if missed { misses.increment() }
        queue.record(queueUs / 1e6)
        infer.record(inferUs / 1e6)
        total.record(totalUs / 1e6)
        if robotSteps[robot] == nil {
            robotSteps[robot] = (
                registry.makeCounter(descriptor: named("reflexd_robot_steps_total", "Steps answered per robot with a session (series go with the session)."), labels: [("robot", robot)]),
                registry.makeCounter(descriptor: named("reflexd_robot_deadline_misses_total", "Deadline misses per robot with a session (series go with the session)."), labels: [("robot", robot)]))
        }
        let r = robotSteps[robot]!
        r.steps.increment()
        if missed { r.misses.increment() }
    }

    func recordError(code: String) { errors[code]?.increment() }

    /// The exposition text, as a scrape gets it.
    func exposition() -> String { registry.emitToString() }

    /// A robot's session ended: its series go, so that there are never more than
    /// `limits.max_sessions` of them.
    func removeRobot(_ robot: String) {
        guard let r = robotSteps.removeValue(forKey: robot) else { return }
        registry.unregisterCounter(r.steps)
        registry.unregisterCounter(r.misses)
    }

    /// Sets the gauges from the serving loop's state (called a few times a second).
    func refresh(_ s: ServingSnapshot) {
        targetFraction.set(s.targetFraction)
        targetGFLOPs.set(s.targetGFLOPs)
        // No step in the window yet: NaN (no value on a dashboard), not a realised 0.
        realisedFraction.set(s.windowSteps > 0 ? s.realisedFraction ?? .nan : .nan)
        realisedGFLOPs.set(s.windowSteps > 0 ? s.realisedGFLOPs ?? .nan : .nan)
        windowSteps.set(Double(s.windowSteps))
        deadline.set((s.deadlineMs ?? 0) / 1000)
        memoryCap.set((s.memoryMB ?? 0) * 1_048_576)
        grow(exits: s.exits)
        modelExits.set(Double(s.exits))
        loadedExits.set(Double(s.loadedExits))
        residentBytes.set(Double(s.residentBytes))
        sessions.set(Double(s.sessions))
        paused.set(s.paused ? 1.0 : 0.0)
        queued.set(Double(s.queued))
        // A threshold series exists while its exit can stop on a threshold.
        for i in 0..<thresholds.count {
            let value = i < s.thresholds.count ? s.thresholds[i] : nil
            if let value {
                if thresholds[i] == nil {
                    thresholds[i] = registry.makeGauge(descriptor: named("reflexd_exit_threshold", "Exit criterion threshold in force per exit (absent: never stops there on a threshold)."), labels: [("exit", "\(i + 1)")])
                }
                thresholds[i]!.set(value)
            } else if let g = thresholds[i] {
                registry.unregisterGauge(g)
                thresholds[i] = nil
            }
        }
        if s.curveDenials > lastCurveDenials { curveDenials.increment(by: Int64(s.curveDenials - lastCurveDenials)) }
        lastCurveDenials = s.curveDenials
        if s.traceDropped > lastTraceDropped { traceDropped.increment(by: Int64(s.traceDropped - lastTraceDropped)) }
        lastTraceDropped = s.traceDropped
        let key = s.model + "\u{0}" + s.modelSHA256
        if modelInfo?.key != key {
            if let old = modelInfo { registry.unregisterGauge(old.gauge) }
            let g = registry.makeGauge(descriptor: named("reflexd_model_info", "The model being served (value 1)."), labels: [("model", s.model), ("sha256", s.modelSHA256)])
            g.set(1.0)
            modelInfo = (key, g)
        }
    }

    private static func reasonIndex(_ reason: ExitReason) -> Int {
        switch reason {
        case .threshold: return 0
        case .last: return 1
        case .deadline: return 2
        case .memory: return 3
        }
    }

    /// A 1-2-5 ladder from 50 µs to 5 s, with 0.5×–2× the deadline in 5–10 % steps added.
    static func buckets(deadlineSeconds d: Double) -> [Double] {
        let ladder = [0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5]
        // Whole microseconds, so that the `le` labels read as written (0.014, not 0.013999999999999999).
        let fine = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.5, 2.0].map { ($0 * d * 1e6).rounded() / 1e6 }
        var out: [Double] = []
        for b in (ladder + fine).sorted() where out.last.map({ b > $0 * 1.02 }) ?? true {
            out.append(b)
        }
        return out
    }
}

/// A metric's full name and help text (the registry joins descriptor parts with `_`).
private func named(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}
