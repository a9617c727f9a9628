import ArgumentParser
import Foundation
import ReflexDaemon
import ReflexTools

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print JSON (--json) against a baseline measured in the same run.",
        subcommands: [EngineBenchCommand.self, TransportBenchCommand.self, SchedulerBenchCommand.self, MemoryBenchCommand.self, GemmBenchCommand.self])
}

/// Progress goes to stderr so that stdout stays the table and the JSON line.
func progress(_ s: String) { FileHandle.standardError.write(Data("[bench] \(s)\n".utf8)) }

func printReport(_ cases: [[String: Any]], extra: [String: Any] = [:], json: Bool, table: String) throws {
    print(table, terminator: "")
    if json {
        var obj = extra
        obj["cases"] = cases
        obj["version"] = ReflexVersion.string
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }
}

struct EngineBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine", abstract: "Swift engine vs PyTorch vs ONNX Runtime at every exit, and sgemm at the model's shapes.")

    @Option(help: "Configurations: default, default-chunked (two cameras, chunks of 8 actions), large (comma-separated).")
    var configs = "default,default-chunked,large"
    @Option(help: "Thread counts (comma-separated).") var threads = "1,2"
    @Option(help: "Timed iterations for the default and default-chunked configs.") var iterations = 200
    @Option(help: "Timed iterations for the large config.") var largeIterations = 20
    @Flag(help: "Skip PyTorch and ONNX Runtime (Swift and sgemm only).") var noPython = false
    @Flag(help: "Also step each configuration's int8 bundle (<config>-int8, made by reflex_model.quantize when missing).") var int8 = false
    @Option(help: "The repository's tools/ folder (found automatically when run from the repository).") var tools: String?
    @Flag(help: "End with one JSON line.") var json = false

    func run() throws {
        var o = EngineBench.Options()
        o.configs = configs.split(separator: ",").map(String.init)
        o.threads = threads.split(separator: ",").compactMap { Int($0) }
        o.iterations = ["default": iterations, "default-chunked": iterations, "large": largeIterations]
        o.withPython = !noPython
        o.int8 = int8
        let bench = EngineBench(options: o, tools: try PythonTools(toolsDirectory: tools), log: progress)
        let cases = try bench.run()
        try printReport(cases, extra: ["benchmark": "engine"], json: json, table: EngineBench.table(cases))
    }
}

struct TransportBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport", abstract: "Raw libzmq round trip vs reflexd's ping and step round trips; the daemon's overhead.")

    @Option(help: "Round trips per case.") var iterations = 2000
    @Option(help: "Rounds of the observability on/off comparison (iterations/rounds steps per daemon per round).") var observabilityRounds = 20
    @Option(help: "reflexd binary (default: next to this reflex).") var reflexd: String?
    @Option(help: "The repository's tools/ folder (to make the benchmark bundle).") var tools: String?
    @Flag(help: "End with one JSON line.") var json = false

    func run() throws {
        let root = NSHomeDirectory() + "/.cache/reflex/bench"
        if !FileManager.default.fileExists(atPath: root + "/transport/manifest.json") {
            progress("writing the transport benchmark bundle to \(root)")
            _ = try PythonTools(toolsDirectory: tools).run(module: "reflex_model.make_bench_bundles", [root, "--only", "transport"])
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let bench = TransportBench(reflexd: reflexd ?? exe.appendingPathComponent("reflexd").path, bundle: root + "/transport",
                                   iterations: iterations, log: progress)
        var cases = try bench.run()
        let observed = try ObservabilityCostBench(reflexd: bench.reflexd, bundle: bench.bundle, iterations: max(50, iterations / observabilityRounds),
                                                  rounds: observabilityRounds, log: progress).run()
        var table = "case  payload_B  raw_zmq_us  daemon_us  engine_us  overhead_us  overhead/raw\n"
        for c in cases {
            func v(_ k: String) -> Double { c[k] as? Double ?? .nan }
            table += (c["case"] as! String).padding(toLength: 5, withPad: " ", startingAt: 0)
            table += String(format: " %9d %11.1f %10.1f %10.1f %12.1f %13.2f\n", c["payload_bytes"] as! Int, v("raw_zmq_us"),
                            v("daemon_us"), v("engine_us"), v("daemon_overhead_us"), v("overhead_over_raw"))
        }
        table += String(format: "metrics+trace+top on vs off, step round trip: %.1f vs %.1f us, on/off %.3f (median of %d rounds)\n",
                        observed["daemon_us"] as! Double, observed["daemon_off_us"] as! Double, observed["on_over_off"] as! Double,
                        observabilityRounds)
        cases.append(observed)
        try printReport(cases, extra: ["benchmark": "transport"], json: json, table: table)
    }
}

struct SchedulerBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Replay recorded observations through the engine under several budgets: realised compute, exits, latency, misses.")

    @Option(help: "Model bundle.") var model = "models/default"
    @Option(help: "Trace folder (written by `python -m reflex_metaworld.make_trace`).") var trace = NSHomeDirectory() + "/.cache/reflex/trace"
    @Option(help: "Times the trace is replayed per setting.") var passes = 1
    @Option(help: "Engine threads.") var threads = 1
    @Option(help: "The repository's tools/ folder (to make the trace).") var tools: String?
    @Flag(help: "End with one JSON line.") var json = false

    func run() throws {
        if !FileManager.default.fileExists(atPath: trace + "/images.npy") {
            progress("writing the replay trace to \(trace) from the validation demonstrations")
            _ = try PythonTools(toolsDirectory: tools).run(module: "reflex_metaworld.make_trace", ["--out", trace, "--model", model])
        }
        let bench = SchedulerBench(model: model, trace: try SchedulerBench.Trace(directory: trace), threads: threads, log: progress)
        let cases = try bench.run(passes: passes)
        try printReport(cases, extra: ["benchmark": "scheduler", "model": model], json: json, table: SchedulerBench.table(cases))
    }
}

struct MemoryBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Exits kept resident under memory_mb caps, bundle by bundle (e.g. float32 vs int8 weights), and what the scheduler then runs.")

    @Option(help: "Bundles as LABEL=DIR (comma-separated).") var models = "float32=models/default,int8=models/default-int8"
    @Option(help: "memory_mb caps in MiB (comma-separated).") var caps = "1,1.5,2,3,4,6"
    @Option(help: "Replay trace folder (reflex_metaworld.make_trace); skipped when absent.") var trace = NSHomeDirectory() + "/.cache/reflex/trace"
    @Option(help: "Engine threads.") var threads = 1
    @Flag(help: "End with one JSON line.") var json = false

    func run() throws {
        let list = models.split(separator: ",").map { item -> MemoryBench.Model in
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            return MemoryBench.Model(label: parts.count == 2 ? parts[0] : parts[0], directory: parts.last!)
        }
        let t = FileManager.default.fileExists(atPath: trace + "/images.npy") ? try SchedulerBench.Trace(directory: trace) : nil
        if t == nil { progress("no trace at \(trace): exits resident only") }
        let bench = MemoryBench(models: list, capsMB: caps.split(separator: ",").compactMap { Double($0) }, trace: t,
                                threads: threads, log: progress)
        let cases = try bench.run()
        try printReport(cases, extra: ["benchmark": "memory"], json: json, table: MemoryBench.table(cases))
    }
}

struct GemmBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GFLOP/s of OpenBLAS sgemm and the int8 candidates at one block's GEMM shapes of the default and large configurations.")

    @Option(help: "Timed calls per candidate and shape.") var iterations = 200
    @Flag(help: "End with one JSON line.") var json = false

    func run() throws {
        let bench = GemmBench(iterations: iterations)
        // default: the shipped architecture (45 tokens, width 128, MLP 512); large: 74 tokens, width 512, MLP 2048.
        let peak = GemmBench.fmaPeakGFLOPs()
        var cases = bench.run(config: "default", shapes: GemmBench.blockShapes(tokens: 45, width: 128, mlp: 512))
            + bench.run(config: "large", shapes: GemmBench.blockShapes(tokens: 74, width: 512, mlp: 2048))
        if let peak {
            for i in cases.indices {
                cases[i]["fma_peak_gflops"] = peak
                cases[i]["f32_avx512_over_peak"] = (cases[i]["f32_avx512_gflops"] as? Double).map { $0 / peak }
                cases[i]["f32_avx512_kblocked_over_peak"] = (cases[i]["f32_avx512_kblocked_gflops"] as? Double).map { $0 / peak }
            }
        }
        let peakLine = peak.map { String(format: "one thread's float32 FMA peak (AVX-512, measured): %.1f GFLOP/s\n", $0) } ?? ""
        try printReport(cases, extra: ["benchmark": "gemm", "fma_peak_gflops": peak ?? NSNull()], json: json,
                        table: peakLine + GemmBench.table(cases))
    }
}
