import COpenBLAS
import Foundation
import ReflexDaemon
import ReflexEngine

/// `reflexctl bench engine`: the Swift engine at every exit against PyTorch and ONNX Runtime on
/// the same weights and thread count, and a plain sgemm at the model's shapes — one run.
public struct EngineBench {
    public struct Options {
        public var configs = ["default", "default-chunked", "large"]
        public var threads = [1, 2]
        public var iterations: [String: Int] = ["default": 200, "default-chunked": 200, "large": 20]
        public var warmup = 5
        public var withPython = true
        /// Also step the int8 bundle of each configuration (`<config>-int8`, written by
        /// `reflex_model.quantize` when missing), right after the float32 one, same threads.
        public var int8 = false
        public var bundleRoot = NSHomeDirectory() + "/.cache/reflex/bench"
        public init() {}
    }

    let options: Options
    let tools: PythonTools
    let log: (String) -> Void

    public init(options: Options, tools: PythonTools, log: @escaping (String) -> Void) {
        self.options = options; self.tools = tools; self.log = log
    }

    /// Measures every configuration and returns the `cases` of the JSON report.
    public func run() throws -> [[String: Any]] {
        let missing = options.configs.filter { !FileManager.default.fileExists(atPath: "\(options.bundleRoot)/\($0)/manifest.json") }
        if !missing.isEmpty {
            log("writing random-weight benchmark bundles (\(missing.joined(separator: ", "))) to \(options.bundleRoot)")
            for config in missing { _ = try tools.run(module: "reflex_model.make_bench_bundles", [options.bundleRoot, "--only", config]) }
        }
        var cases: [[String: Any]] = []
        // One thread's float32 FMA peak, measured now (AVX-512 CPUs only), beside the engine's GFLOP/s.
        let peak = GemmBench.fmaPeakGFLOPs()
        // One thread's read bandwidth from memory, beside the rate at which a step streams its weights.
        let stream = GemmBench.memoryReadGBps()
        for config in options.configs {
            let dir = "\(options.bundleRoot)/\(config)"
            let policy = MultiExitPolicy(bundle: try ModelBundle(directory: dir))
            let iterations = options.iterations[config] ?? 50
            var int8Policy: MultiExitPolicy?
            if options.int8 {
                if !FileManager.default.fileExists(atPath: dir + "-int8/manifest.json") {
                    log("writing the int8 bundle of \(config) to \(dir)-int8")
                    _ = try tools.run(module: "reflex_model.quantize", [dir, "--out", dir + "-int8"])
                }
                int8Policy = MultiExitPolicy(bundle: try ModelBundle(directory: dir + "-int8"))
            }
            for threads in options.threads {
                log("\(config), \(threads) thread(s): Swift engine")
                let swift = try measureSwift(policy, threads: threads, iterations: iterations)
                let swiftInt8 = try int8Policy.map {
                    log("\(config), \(threads) thread(s): Swift engine, int8 weights")
                    return try measureSwift($0, threads: threads, iterations: iterations)
                }
                let sgemm = measureSgemm(policy, iterations: iterations)
                var py: [String: Any] = [:]
                if options.withPython {
                    log("\(config), \(threads) thread(s): PyTorch and ONNX Runtime")
                    py = try tools.runJSON(module: "reflex_model.bench_runner", [
                        "--bundle", dir, "--threads", "\(threads)", "--iterations", "\(iterations)", "--warmup", "\(options.warmup)"])
                }
                for (i, s) in swift.enumerated() {
                    let flops = Double(policy.cost.exitFLOPs[i])
                    var c: [String: Any] = [
                        "config": config, "threads": threads, "exit": i + 1, "gflops": flops / 1e9,
                        "cameras": policy.manifest.cameras.count, "chunk": policy.manifest.chunk,
                        "swift_us": s.median, "swift_us_p99": s.p99,
                        "swift_gflops": flops / s.median / 1e3, "sgemm_gflops": sgemm,
                        "kernels": Kernels.kernelISA,
                        "fma_peak_gflops": peak ?? NSNull(),
                        "swift_over_fma_peak": peak.map { flops / s.median / 1e3 / ($0 * Double(threads)) } ?? NSNull(),
                        // weight bytes resident up to this exit, each read once a step: GB/s streamed
                        "weight_bytes": policy.cost.residentBytes[i],
                        "weights_gbps": Double(policy.cost.residentBytes[i]) / s.median / 1e3,
                        "memory_read_gbps": stream,
                    ]
                    if let q = swiftInt8?[i], let p = int8Policy {
                        c["swift_int8_us"] = q.median
                        c["swift_int8_us_p99"] = q.p99
                        c["int8_over_float32_time"] = q.median / s.median
                        c["resident_bytes"] = policy.cost.residentBytes[i]
                        c["resident_bytes_int8"] = p.cost.residentBytes[i]
                    }
                    for (system, key) in [("pytorch", "pytorch"), ("onnxruntime", "onnxruntime")] {
                        if let sys = py[system] as? [String: Any], let exits = sys["exits"] as? [[String: Any]],
                           let e = exits.first(where: { ($0["exit"] as? Int) == i + 1 }),
                           let med = e["median_us"] as? Double {
                            c["\(key)_us"] = med
                            c["\(key)_us_p99"] = e["p99_us"] as? Double
                            c["\(key)_over_swift"] = med / s.median
                        }
                    }
                    cases.append(c)
                }
            }
        }
        return cases
    }

    func measureSwift(_ policy: MultiExitPolicy, threads: Int, iterations: Int) throws -> [LatencySummary] {
        let m = policy.manifest
        var rng = SystemRandomNumberGenerator()
        // One buffer holds every camera's image, one after the other.
        let sizes = m.cameras.map { $0.shape.reduce(1, *) }
        let image = (0..<sizes.reduce(0, +)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let state = (0..<m.stateInput.shape[0]).map { _ in Float.random(in: -1...1, using: &rng) }
        let words = policy.tokenizer.tokenize("open the drawer").ids
        let ws = policy.makeWorkspace(threads: threads)
        var out = policy.makeOutput()
        var results: [LatencySummary] = []
        try image.withUnsafeBytes { img in
            try state.withUnsafeBytes { st in
                let offsets = sizes.indices.map { sizes[..<$0].reduce(0, +) }
                let obs = Observation(images: zip(offsets, sizes).map { UnsafeRawBufferPointer(rebasing: img[$0..<($0 + $1)]) },
                                      state: st, words: words)
                for exit in 1...policy.cost.exits {
                    var rule = FixedExitRule(exit: exit)
                    var rec = policy.makeState()
                    var samples: [Double] = []
                    samples.reserveCapacity(iterations)
                    for k in 0..<(options.warmup + iterations) {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        try policy.step(obs, state: &rec, rule: &rule, workspace: ws, output: &out)
                        let t1 = DispatchTime.now().uptimeNanoseconds
                        if k >= options.warmup { samples.append(Double(t1 - t0) / 1e3) }
                    }
                    results.append(LatencySummary(samples))
                }
            }
        }
        return results
    }

    /// GFLOP/s of cblas_sgemm on one block's four GEMM shapes (T×d·3d, T×d·d, T×d·m, T×m·d).
    func measureSgemm(_ policy: MultiExitPolicy, iterations: Int) -> Double {
        let a = policy.manifest.architecture
        let t = policy.cost.tokens
        let d = a.width, m = a.mlpHidden
        let shapes = [(t, 3 * d, d), (t, d, d), (t, m, d), (t, d, m)]  // (M, N, K)
        var totalFlops = 0.0, totalUs = 0.0
        for (mm, n, k) in shapes {
            let A = [Float](repeating: 0.5, count: mm * k), B = [Float](repeating: 0.25, count: k * n)
            var C = [Float](repeating: 0, count: mm * n)
            var samples: [Double] = []
            for r in 0..<(options.warmup + iterations * 4) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(mm), Int32(n), Int32(k),
                            1, A, Int32(k), B, Int32(n), 1, &C, Int32(n))
                let t1 = DispatchTime.now().uptimeNanoseconds
                if r >= options.warmup { samples.append(Double(t1 - t0) / 1e3) }
            }
            totalFlops += Double(2 * mm * n * k)
            totalUs += LatencySummary(samples).median
        }
        return totalFlops / totalUs / 1e3
    }

    /// A short table of the cases for people (the JSON line follows it).
    public static func table(_ cases: [[String: Any]]) -> String {
        let int8 = cases.contains { $0["swift_int8_us"] != nil }
        var s = "config           thr exit  GFLOP   swift_us  pytorch_us  onnxrt_us  pt/swift  ort/swift  swift_GF/s  sgemm_GF/s  of_peak"
        s += int8 ? "  int8_us  int8/f32\n" : "\n"
        for c in cases {
            func v(_ k: String) -> Double { c[k] as? Double ?? .nan }
            s += (c["config"] as! String).padding(toLength: 16, withPad: " ", startingAt: 0)
            s += String(format: " %3d %4d %6.3f %10.1f %11.1f %10.1f %9.2f %10.2f %11.1f %11.1f %8.2f\n",
                        c["threads"] as! Int, c["exit"] as! Int, v("gflops"), v("swift_us"),
                        v("pytorch_us"), v("onnxruntime_us"), v("pytorch_over_swift"), v("onnxruntime_over_swift"),
                        v("swift_gflops"), v("sgemm_gflops"), v("swift_over_fma_peak"))
            if int8 { s.removeLast(); s += String(format: " %8.1f %9.2f\n", v("swift_int8_us"), v("int8_over_float32_time")) }
        }
        return s
    }
}
