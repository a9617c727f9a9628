import Foundation
import Logging
import ReflexWire

/// What the serving loop tells the outside about each step: the Prometheus metrics and their
/// HTTP endpoint (config `metrics`), the per-step trace (config `trace`) and the per-robot
/// activity of `stats`. Called on the serving thread only; the endpoint and the trace writer
/// run on their own threads.
final class ServingObservability {
    private let metrics: DaemonMetrics?
    private let endpoint: MetricsEndpoint?
    private let trace: StepTraceWriter?
    private(set) var robots = RobotActivity()
    private var lastRefresh: UInt64 = 0

    /// Starts the metrics listener and the trace writer the config asks for.
    init(config: DaemonConfig, exits: Int, log: Logger) throws {
        if let m = config.metrics {
            let metrics = DaemonMetrics(exits: exits, deadlineMs: config.budget.deadlineMs)
            let endpoint = try MetricsEndpoint(config: m, registry: metrics.registry)
            if !m.isLoopback {
                log.warning("metrics are served to other machines without authentication", metadata: ["listen": "\(endpoint.boundAddress)"])
            }
            log.info("metrics", metadata: ["url": "http://\(endpoint.boundAddress)/metrics"])
            self.metrics = metrics
            self.endpoint = endpoint
        } else {
            metrics = nil
            endpoint = nil
        }
        if let t = config.trace {
            let writer = try StepTraceWriter(config: t)
            writer.start()
            log.info("tracing steps", metadata: ["path": "\(t.path)", "max_bytes": "\(t.maxBytes)", "keep": "\(t.keep)"])
            trace = writer
        } else {
            trace = nil
        }
    }

    /// The bound `HOST:PORT` of `/metrics`, nil when off.
    var metricsAddress: String? { endpoint?.boundAddress }
    var traceWritten: Int { trace?.written ?? 0 }
    var traceDropped: Int { trace?.dropped ?? 0 }
    var tracing: Bool { trace != nil }

    /// One served step; `trace` is only built when tracing is on.
    func recordStep(robot: String, exit: Int, reason: ExitReason, probe: Bool, missed: Bool,
                    queueUs: Double, inferUs: Double, totalUs: Double, trace record: @autoclosure () -> StepTraceRecord) {
        robots.record(robot: robot, exit: exit, reason: reason, totalUs: totalUs, missed: missed)
        metrics?.recordStep(robot: robot, exit: exit, reason: reason, probe: probe, missed: missed,
                            queueUs: queueUs, inferUs: inferUs, totalUs: totalUs)
        trace?.submit(record())
    }

    func recordError(code: String) { metrics?.recordError(code: code) }

    /// A robot's session went (idle): its activity and per-robot series go with it.
    func removeRobot(_ robot: String) {
        robots.remove(robot)
        metrics?.removeRobot(robot)
        lastRefresh = 0  // the next refresh shows the session count without waiting
    }

    /// Sets the gauges when at least `intervalNs` passed since the last time (or `force`).
    func refresh(now: UInt64, force: Bool = false, intervalNs: UInt64 = 250_000_000, _ snapshot: () -> ServingSnapshot) {
        guard let metrics, force || now &- lastRefresh >= intervalNs else { return }
        lastRefresh = now
        var s = snapshot()
        s.traceDropped = traceDropped
        metrics.refresh(s)
    }

    /// Writes what the trace holds and closes the listener.
    func close() {
        trace?.close()
        endpoint?.stop()
    }
}
