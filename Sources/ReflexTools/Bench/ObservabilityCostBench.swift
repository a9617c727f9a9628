import Foundation
import ReflexServing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Part of `reflexctl bench transport`: what metrics, traces and the live view cost a step's
/// round trip. Two daemons on the same bundle, one plain and one with `metrics` and `trace` on,
/// scraped and polled for `stats` once a second (as Prometheus and `reflexctl top` would) while
/// it serves; step round trips alternate between them in rounds, so both see the same load.
public struct ObservabilityCostBench {
    public let reflexd: String
    public let bundle: String
    /// Step round trips per daemon per round.
    public let iterations: Int
    public let rounds: Int
    public let log: (String) -> Void
    private let clock = MonotonicClock()

    public init(reflexd: String, bundle: String, iterations: Int, rounds: Int, log: @escaping (String) -> Void) {
        self.reflexd = reflexd; self.bundle = bundle; self.iterations = iterations; self.rounds = rounds; self.log = log
    }

    public func run() throws -> [String: Any] {
        // Both daemons on the same core: otherwise where each one lands beside the client and the
        // machine's other load decides the comparison (seen here: ±20 % either way between runs).
        let cpu = DaemonProcess.canPin ? ProcessInfo.processInfo.activeProcessorCount - 1 : nil
        let image = [UInt8](repeating: 7, count: 128 * 128 * 3), state = [UInt8](repeating: 0, count: 16)
        let header = Array(#"{"v":1,"type":"step","robot":"bench","seq":1,"instruction":"open the drawer","tensors":[{"name":"image","dtype":"uint8","shape":[128,128,3]},{"name":"state","dtype":"float32","shape":[4]}]}"#.utf8)
        let traceDirectory = NSTemporaryDirectory() + "reflex-bench-trace-\(getpid())"
        try FileManager.default.createDirectory(atPath: traceDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: traceDirectory) }
        let metricsPort = DaemonProcess.freePort()
        log("observability off vs on (metrics scraped and stats polled every second, trace written): \(rounds) rounds")
        let off = try DaemonProcess(reflexd: reflexd, bundle: bundle, cpu: cpu)
        defer { off.stop() }
        let on = try DaemonProcess(reflexd: reflexd, bundle: bundle, cpu: cpu, extraYAML: """
            metrics:
              listen: 127.0.0.1:\(metricsPort)
            trace:
              path: \(traceDirectory)/trace.jsonl
            """)
        defer { on.stop() }
        let clients = [try PolicyClient(endpoint: off.policyEndpoint, timeoutMs: 5000),
                       try PolicyClient(endpoint: on.policyEndpoint, timeoutMs: 5000)]
        for c in clients { _ = try c.request(["type": "ping", "robot": "bench"]) }

        let watcher = Watcher(metricsURL: URL(string: "http://127.0.0.1:\(metricsPort)/metrics")!, control: on.controlEndpoint)
        watcher.start()
        defer { watcher.stop() }

        var samples: [[Double]] = [[], []]
        var ratios: [Double] = []
        for round in 0..<rounds {
            var medians = [0.0, 0.0]
            for which in (round % 2 == 0 ? [0, 1] : [1, 0]) {
                var rtts: [Double] = []
                for k in 0..<(iterations + 20) {
                    let t0 = clock.now()
                    try clients[which].send([header, image, state])
                    _ = try clients[which].receiveRaw()
                    if k >= 20 { rtts.append(clock.microseconds(from: t0, to: clock.now())) }
                }
                medians[which] = LatencySummary(rtts).median
                samples[which] += rtts
            }
            ratios.append(medians[1] / medians[0])
        }
        let scrapes = watcher.stop()
        guard scrapes.metrics > 0 else { throw BenchError("the observed daemon's /metrics never answered") }
        return [
            "case": "step_observability", "payload_bytes": header.count + image.count + state.count, "rounds": rounds,
            "daemon_us": LatencySummary(samples[1]).median, "daemon_off_us": LatencySummary(samples[0]).median,
            "on_over_off": LatencySummary(ratios).median, "round_ratios": ratios,
            "scrapes": scrapes.metrics, "stats_polls": scrapes.stats, "daemons_on_cpu": cpu.map { $0 as Any } ?? NSNull(),
        ]
    }

    /// Scrapes `/metrics` and polls `stats` once a second on its own thread.
    final class Watcher: @unchecked Sendable {
        let metricsURL: URL
        let control: String
        private let lock = NSLock()
        private var running = true
        private var counts = (metrics: 0, stats: 0)
        private let done = DispatchSemaphore(value: 0)

        init(metricsURL: URL, control: String) { self.metricsURL = metricsURL; self.control = control }

        func start() {
            Thread { [self] in
                while lock.withLock({ running }) {
                    let got = DispatchSemaphore(value: 0)
                    URLSession.shared.dataTask(with: metricsURL) { data, response, _ in
                        if (response as? HTTPURLResponse)?.statusCode == 200, data?.isEmpty == false {
                            self.lock.withLock { self.counts.metrics += 1 }
                        }
                        got.signal()
                    }.resume()
                    _ = got.wait(timeout: .now() + 2)
                    if (try? ControlRequest.send(["cmd": "stats"], endpoint: control, timeoutMs: 1000)) != nil {
                        lock.withLock { counts.stats += 1 }
                    }
                    Thread.sleep(forTimeInterval: 1)
                }
                done.signal()
            }.start()
        }

        /// Stops the thread (once) and returns how many scrapes and polls succeeded.
        @discardableResult
        func stop() -> (metrics: Int, stats: Int) {
            let wasRunning = lock.withLock { () -> Bool in
                defer { running = false }
                return running
            }
            if wasRunning { _ = done.wait(timeout: .now() + 5) }
            return lock.withLock { counts }
        }
    }
}
