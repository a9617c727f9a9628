import Foundation
import ReflexServing
import ReflexWire
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// `reflexctl bench transport`: libzmq's own DEALER/ROUTER round trip against reflexd's ping and
/// step round trips for the same payloads, in one run; the daemon's overhead is its round trip
/// minus the engine time it reports.
public struct TransportBench {
    public let reflexd: String
    public let bundle: String
    public let iterations: Int
    public let log: (String) -> Void
    private let clock = MonotonicClock()

    public init(reflexd: String, bundle: String, iterations: Int, log: @escaping (String) -> Void) {
        self.reflexd = reflexd; self.bundle = bundle; self.iterations = iterations; self.log = log
    }

    public func run() throws -> [[String: Any]] {
        let image = [UInt8](repeating: 7, count: 128 * 128 * 3), state = [UInt8](repeating: 0, count: 16)
        let stepHeader = Array(#"{"v":1,"type":"step","robot":"bench","seq":1,"instruction":"open the drawer","tensors":[{"name":"image","dtype":"uint8","shape":[128,128,3]},{"name":"state","dtype":"float32","shape":[4]}]}"#.utf8)
        let pingHeader = Array(#"{"v":1,"type":"ping","robot":"bench","seq":1}"#.utf8)

        log("raw libzmq DEALER/ROUTER echo over tcp")
        let rawPing = try rawRoundTrip([pingHeader])
        let rawStep = try rawRoundTrip([stepHeader, image, state])

        log("reflexd round trips (\(bundle))")
        let daemon = try DaemonProcess(reflexd: reflexd, bundle: bundle)
        defer { daemon.stop() }
        let client = try PolicyClient(endpoint: daemon.policyEndpoint, timeoutMs: 5000)
        _ = try client.request(["type": "ping", "robot": "bench"])
        // Pre-encoded requests, as for the raw echo: only the daemon's own work is compared.
        var ping: [Double] = [], step: [Double] = [], infer: [Double] = [], overhead: [Double] = []
        for k in 0..<(iterations + 20) {
            let t0 = clock.now()
            try client.send([pingHeader])
            _ = try client.receiveRaw()
            let t1 = clock.now()
            try client.send([stepHeader, image, state])
            let reply = try client.receiveRaw()
            let t2 = clock.now()
            let header = reply.count > 1 ? reply[1].bytes : []
            guard case .object(let o)? = try? WireJSON.parse(header), case .object(let timing)? = o["timing_us"],
                  case .number(let inf)? = timing["infer"] else { throw BenchError("step failed: \(String(decoding: header, as: UTF8.self))") }
            if k >= 20 {
                ping.append(clock.microseconds(from: t0, to: t1))
                let rtt = clock.microseconds(from: t1, to: t2)
                step.append(rtt); infer.append(inf.double); overhead.append(rtt - inf.double)
            }
        }
        let p = LatencySummary(ping), s = LatencySummary(step), o = LatencySummary(overhead)
        return [
            ["case": "ping", "payload_bytes": pingHeader.count, "raw_zmq_us": rawPing.median, "raw_zmq_us_p99": rawPing.p99,
             "daemon_us": p.median, "daemon_us_p99": p.p99, "daemon_overhead_us": p.median - rawPing.median,
             "overhead_over_raw": p.median / rawPing.median],
            ["case": "step", "payload_bytes": stepHeader.count + image.count + state.count,
             "raw_zmq_us": rawStep.median, "raw_zmq_us_p99": rawStep.p99, "daemon_us": s.median, "daemon_us_p99": s.p99,
             "engine_us": LatencySummary(infer).median, "daemon_overhead_us": o.median, "daemon_overhead_us_p99": o.p99,
             "overhead_over_raw": o.median / rawStep.median],
        ]
    }

    /// Median round trip of `frames` through a ROUTER that echoes them back, on loopback tcp.
    func rawRoundTrip(_ frames: [[UInt8]]) throws -> LatencySummary {
        let context = try ZMQContext()
        let router = try context.socket(.router)
        try router.set(.linger(milliseconds: 0))
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        let total = iterations + 20
        let echo = Thread {
            for _ in 0..<total { if let m = try? router.receiveMultipart() { _ = try? router.send(m) } }
        }
        echo.start()
        let dealer = try context.socket(.dealer)
        try dealer.set(.linger(milliseconds: 0))
        try dealer.set(.receiveTimeout(milliseconds: 5000))
        try dealer.connect(endpoint)
        var samples: [Double] = []
        for k in 0..<total {
            let t0 = clock.now()
            try dealer.send([[]] + frames)
            _ = try dealer.receiveMultipart()
            if k >= 20 { samples.append(clock.microseconds(from: t0, to: clock.now())) }
        }
        while !echo.isFinished { usleep(1000) }
        dealer.close(); router.close(); context.terminate()
        return LatencySummary(samples)
    }
}

/// reflexd started as a child process on free loopback ports with a minimal config.
final class DaemonProcess {
    let process = Process()
    let policyEndpoint: String
    let controlEndpoint: String
    let directory: String

    /// util-linux's taskset, to run a daemon on a chosen CPU.
    static let taskset = "/usr/bin/taskset"
    static var canPin: Bool { FileManager.default.isExecutableFile(atPath: taskset) }

    /// `cpu`: run the daemon on that CPU only (through taskset).
    init(reflexd: String, bundle: String, cpu: Int? = nil, extraYAML: String = "") throws {
        directory = NSTemporaryDirectory() + "reflex-bench-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ports = (0..<3).map { _ in Self.freePort() }
        policyEndpoint = "tcp://127.0.0.1:\(ports[0])"
        controlEndpoint = "tcp://127.0.0.1:\(ports[2])"
        let yaml = """
        model: \(bundle)
        endpoints:
          policy: \(policyEndpoint)
          actions: tcp://127.0.0.1:\(ports[1])
          control: tcp://127.0.0.1:\(ports[2])
        logging:
          level: warning
        \(extraYAML)
        """
        let config = directory + "/reflexd.yaml"
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        if let cpu, Self.canPin {
            process.executableURL = URL(fileURLWithPath: Self.taskset)
            process.arguments = ["-c", "\(cpu)", reflexd, "--config", config]
        } else {
            process.executableURL = URL(fileURLWithPath: reflexd)
            process.arguments = ["--config", config]
        }
        try process.run()
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
