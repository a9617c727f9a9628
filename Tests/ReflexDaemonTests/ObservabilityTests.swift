import Foundation
import Testing

@testable import ReflexDaemon

/// The `metrics` and `trace` config sections, the latency buckets, the per-robot activity and
/// the trace writer's rotation and bounded buffer.
@Suite struct ObservabilityTests {
    static let path = "/srv/reflex/etc/reflexd.yaml"

    func problems(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.load(yaml: yaml, path: Self.path)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    // MARK: Config

    @Test func metricsAndTraceAreOffWhenAbsent() throws {
        let config = try ConfigLoader.load(yaml: "model: bundle\n", path: Self.path)
        #expect(config.metrics == nil)
        #expect(config.trace == nil)
    }

    @Test func theShippedConfigServesMetricsOnLoopbackAndDoesNotTrace() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try ConfigLoader.load(path: root.appendingPathComponent("etc/reflexd.yaml").path)
        #expect(config.metrics == MetricsConfig(host: "127.0.0.1", port: 9464))
        #expect(config.trace == nil)
    }

    @Test func metricsListenReadsHostAndPort() throws {
        let v4 = try ConfigLoader.load(yaml: "model: m\nmetrics: {listen: 127.0.0.1:9464}\n", path: Self.path)
        #expect(v4.metrics == MetricsConfig(host: "127.0.0.1", port: 9464))
        #expect(v4.metrics?.isLoopback == true)
        let v6 = try ConfigLoader.load(yaml: "model: m\nmetrics: {listen: \"[::1]:0\"}\n", path: Self.path)
        #expect(v6.metrics == MetricsConfig(host: "::1", port: 0))
        let named = try ConfigLoader.load(yaml: "model: m\nmetrics: {listen: \"localhost:9100\"}\n", path: Self.path)
        #expect(named.metrics == MetricsConfig(host: "127.0.0.1", port: 9100))
        let open = try ConfigLoader.load(yaml: "model: m\nmetrics: {listen: \"0.0.0.0:9464\"}\n", path: Self.path)
        #expect(open.metrics?.isLoopback == false)
    }

    @Test func badMetricsSectionsAreLocatedProblems() {
        #expect(problems("model: m\nmetrics:\n  listen: 9464\n") == [
            "\(Self.path):3:11: metrics.listen: must be a string, got 9464"])
        #expect(problems("model: m\nmetrics:\n  listen: \"9464\"\n") == [
            "\(Self.path):3:11: metrics.listen: must be HOST:PORT, as in 127.0.0.1:9464, got \"9464\""])
        #expect(problems("model: m\nmetrics:\n  listen: 127.0.0.1:99999\n") == [
            "\(Self.path):3:11: metrics.listen: port must be 0-65535 (0: any free port), got \"99999\""])
        #expect(problems("model: m\nmetrics:\n  listen: metrics.example:9464\n") == [
            "\(Self.path):3:11: metrics.listen: host must be an IPv4 address, [IPv6] address or localhost (names are not resolved), got \"metrics.example\""])
        #expect(problems("model: m\nmetrics:\n  listen: 127.0.0.1:9464\n  port: 1\n") == [
            "\(Self.path):4:3: metrics.port: unknown key"])
        #expect(problems("model: m\nmetrics:\n  lisen: 127.0.0.1:9464\n") == [
            "\(Self.path):2:1: metrics.listen: missing; set HOST:PORT (e.g. 127.0.0.1:9464) or remove the metrics section",
            "\(Self.path):3:3: metrics.lisen: unknown key (did you mean 'listen'?)"])
    }

    @Test func traceReadsPathRelativeToTheConfigAndDefaults() throws {
        let config = try ConfigLoader.load(yaml: "model: m\ntrace: {path: ../log/trace.jsonl}\n", path: Self.path)
        #expect(config.trace == TraceConfig(path: "/srv/reflex/log/trace.jsonl", maxBytes: 64 << 20, keep: 3, bufferLines: 8192))
        let set = try ConfigLoader.load(yaml: "model: m\ntrace: {path: /t, max_bytes: 8192, keep: 0, buffer_lines: 16}\n", path: Self.path)
        #expect(set.trace == TraceConfig(path: "/t", maxBytes: 8192, keep: 0, bufferLines: 16))
    }

    @Test func badTraceSectionsAreLocatedProblems() {
        #expect(problems("model: m\ntrace:\n  keep: 2\n") == [
            "\(Self.path):2:1: trace.path: missing; set the trace file (e.g. /var/log/reflexd/trace.jsonl) or remove the trace section"])
        #expect(problems("model: m\ntrace:\n  path: /t\n  max_bytes: 10\n") == [
            "\(Self.path):4:14: trace.max_bytes: must be an integer from 4096 to 68719476736, got 10"])
    }

    // MARK: Metrics

    @Test func latencyBucketsResolveTheDeadlineRegion() {
        let b = DaemonMetrics.buckets(deadlineSeconds: 0.02)
        #expect(b == b.sorted())
        for edge in [0.010, 0.016, 0.018, 0.019, 0.020, 0.021, 0.022, 0.024, 0.030, 0.040] { #expect(b.contains(edge)) }
        #expect(b.first == 0.00005 && b.last == 5)
    }

    @Test func robotActivityKeepsAWindowPerRobotAndForgetsRemovedOnes() {
        var a = RobotActivity(window: 4)
        for (i, exit) in [1, 1, 3, 3, 3, 3].enumerated() {
            a.record(robot: "a", exit: exit, reason: exit == 3 ? .last : .threshold, totalUs: Double(100 * (i + 1)), missed: i == 5)
        }
        a.record(robot: "b", exit: 2, reason: .deadline, totalUs: 50, missed: true)
        let a0 = a.statsReply["a"]!
        #expect(a0.steps == 6)
        #expect(a0.meanExit == 3)          // the window holds the last 4 steps
        #expect(a0.windowSteps == 4)
        #expect(a0.lastReason == "last")
        #expect(a0.deadlineMisses == 1)
        #expect(a0.latencyUs == ["p50": 400, "p99": 600])   // nearest rank over 300, 400, 500, 600
        a.remove("a")
        #expect(Array(a.statsReply.keys) == ["b"])
    }

    func snapshot(thresholds: [Double?], model: String = "m", sha: String = "ab") -> ServingSnapshot {
        ServingSnapshot(targetFraction: 0.4, targetGFLOPs: 0.04, realisedFraction: nil, realisedGFLOPs: nil, windowSteps: 0,
                        deadlineMs: 20, memoryMB: nil, thresholds: thresholds, exits: 3, loadedExits: 3, residentBytes: 1000,
                        sessions: 1, paused: false, queued: 0, curveDenials: 2, traceDropped: 0, model: model, modelSHA256: sha)
    }

    @Test func perRobotSeriesGoWithTheRobotAndThresholdSeriesFollowTheirExits() {
        let m = DaemonMetrics(exits: 3, deadlineMs: 20)
        m.recordStep(robot: "arm-1", exit: 2, reason: .threshold, probe: false, missed: true, queueUs: 10, inferUs: 900, totalUs: 1000)
        m.recordStep(robot: "arm-2", exit: 3, reason: .last, probe: true, missed: false, queueUs: 10, inferUs: 900, totalUs: 1000)
        m.refresh(snapshot(thresholds: [0.5, 0.25, nil]))
        var text = m.exposition()
        #expect(text.contains(#"reflexd_robot_steps_total{robot="arm-1"} 1"#))
        #expect(text.contains(#"reflexd_robot_deadline_misses_total{robot="arm-1"} 1"#))
        #expect(text.contains(#"reflexd_steps_total{exit="2",reason="threshold"} 1"#))
        #expect(text.contains(#"reflexd_exit_threshold{exit="2"} 0.25"#) && !text.contains(#"reflexd_exit_threshold{exit="3"}"#))
        #expect(text.contains("reflexd_curve_denials_total 2") && text.contains("reflexd_budget_deadline_seconds 0.02"))
        #expect(text.contains(#"reflexd_model_info{model="m",sha256="ab"} 1"#))
        m.removeRobot("arm-1")
        m.refresh(snapshot(thresholds: [nil, nil, nil], model: "n", sha: "cd"))
        text = m.exposition()
        #expect(!text.contains(#"robot="arm-1""#) && text.contains(#"reflexd_robot_steps_total{robot="arm-2"} 1"#))
        #expect(!text.contains("reflexd_exit_threshold{"))
        #expect(!text.contains(#"sha256="ab""#) && text.contains(#"reflexd_model_info{model="n",sha256="cd"} 1"#))
        #expect(text.contains("reflexd_curve_denials_total 2"))       // a count, not added twice
        // A reload to a deeper model: its exits get series too.
        m.recordStep(robot: "arm-2", exit: 5, reason: .last, probe: false, missed: false, queueUs: 1, inferUs: 1, totalUs: 2)
        #expect(m.exposition().contains(#"reflexd_steps_total{exit="5",reason="last"} 1"#))
    }

    // MARK: Trace

    func record(_ seq: UInt64) -> StepTraceRecord {
        StepTraceRecord(time: 1_700_000_000, robot: "r-1", seq: seq, exit: 2, reason: .threshold, probe: false,
                        distances: [0.5, 0.25], thresholds: [0.75, 0.5, .infinity], gflops: 0.5, fraction: 0.25,
                        targetFraction: 0.4, realisedFraction: nil, deadlineMs: 50, missed: false,
                        queueUs: 10, inferUs: 200, totalUs: 250)
    }

    @Test func traceLineIsOneJSONObjectWithEveryField() throws {
        let line = record(7).jsonLine()
        #expect(line.hasSuffix("}\n"))
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        #expect(object["robot"] as? String == "r-1" && object["seq"] as? Int == 7 && object["exit"] as? Int == 2)
        #expect(object["distances"] as? [Double] == [0.5, 0.25])
        #expect((object["thresholds"] as? [Any])?.count == 3 && (object["thresholds"] as? [Any])?[2] is NSNull)
        #expect(object["realised_fraction"] is NSNull && object["deadline_ms"] as? Double == 50)
        #expect(object["queue_us"] as? Int == 10 && object["infer_us"] as? Int == 200 && object["total_us"] as? Int == 250)
    }

    @Test func traceRotatesBySizeAndKeepsTheNewestFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("t.jsonl").path
        let lineBytes = record(0).jsonLine().utf8.count
        let writer = try StepTraceWriter(config: TraceConfig(path: path, maxBytes: 4096, keep: 2, bufferLines: 100_000))
        writer.start()
        let count = 4096 * 5 / lineBytes
        for i in 0..<count { writer.submit(record(UInt64(i))) }
        writer.close(timeoutSeconds: 10)
        #expect(writer.written == count && writer.dropped == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files == ["t.jsonl", "t.jsonl.1", "t.jsonl.2"])
        for f in files {
            let size = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(f).path)[.size] as! Int
            #expect(size <= 4096 && size > 0)
        }
        // The live file ends with the last record.
        let last = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").last!
        #expect(last.contains("\"seq\":\(count - 1),"))
    }

    @Test func aFullTraceBufferDropsAndCountsInsteadOfWaiting() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // Not started: nothing drains, so the buffer of 8 fills and the rest are dropped.
        let writer = try StepTraceWriter(config: TraceConfig(path: dir.appendingPathComponent("t.jsonl").path, bufferLines: 8))
        for i in 0..<20 { writer.submit(record(UInt64(i))) }
        #expect(writer.dropped == 12)
        writer.start()
        writer.close(timeoutSeconds: 10)
        #expect(writer.written == 8)
    }
}
