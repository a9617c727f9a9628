import Foundation
import ReflexDaemon
import ReflexEngine
import ReflexScheduler

/// `reflexctl bench memory`: under each `memory_mb` cap, how deep the daemon's memory planner
/// loads each bundle (e.g. the float32 and the int8 bundle of one model), the model bytes then
/// measured in memory, and — with a replay trace — the exits the scheduler takes at full budget
/// and the step latency of that loaded model.
public struct MemoryBench {
    public struct Model { public var label: String; public var directory: String
        public init(label: String, directory: String) { self.label = label; self.directory = directory } }

    let models: [Model]
    let capsMB: [Double]
    let trace: SchedulerBench.Trace?
    let threads: Int
    let log: (String) -> Void

    public init(models: [Model], capsMB: [Double], trace: SchedulerBench.Trace?, threads: Int, log: @escaping (String) -> Void) {
        self.models = models; self.capsMB = capsMB; self.trace = trace; self.threads = threads; self.log = log
    }

    public func run() throws -> [[String: Any]] {
        var cases: [[String: Any]] = []
        for cap in capsMB {
            for model in models {
                let full = try ModelBundle(directory: model.directory, upToExit: 1)   // manifest and cost only
                let cost = full.cost
                var c: [String: Any] = ["memory_mb": cap, "model": model.label, "directory": model.directory,
                                        "weights": full.matrixDType, "exits": cost.exits]
                let loaded: Int
                do { loaded = try MemoryPlanner(residentBytes: cost.residentBytes).loadedExits(memoryMB: cap) } catch {
                    log("\(model.label) under \(cap) MiB: \(error)")
                    c["loaded_exits"] = 0
                    cases.append(c)
                    continue
                }
                let bundle = try ModelBundle(directory: model.directory, upToExit: loaded)
                c["loaded_exits"] = loaded
                c["resident_bytes"] = bundle.residentBytes
                c["deepest_gflops_fraction"] = cost.exitGFLOPs[loaded - 1] / cost.exitGFLOPs.last!
                if let trace {
                    log("\(model.label), memory_mb \(cap): replaying the trace up to exit \(loaded)")
                    let bench = SchedulerBench(model: model.directory, trace: trace, threads: threads, log: log, upToExit: loaded)
                    let r = try bench.replayOnce(SchedulerBench.Setting(name: "1.0", fraction: 1.0, mode: .online, deadlineMs: 50, hog: false))
                    for k in ["exit_histogram", "realised_fraction", "swift_us", "swift_us_p99", "steps"] { c[k] = r[k] }
                }
                cases.append(c)
            }
        }
        return cases
    }

    public static func table(_ cases: [[String: Any]]) -> String {
        var s = "memory_mb  model           weights  loaded/exits  resident_MiB  deepest_GF%  exits taken (budget 1.0)      p50_us\n"
        for c in cases {
            let hist = (c["exit_histogram"] as? [Int] ?? []).map(String.init).joined(separator: "/")
            s += String(format: "%9.2f  ", c["memory_mb"] as! Double)
            s += (c["model"] as! String).padding(toLength: 15, withPad: " ", startingAt: 0) + " "
            s += (c["weights"] as! String).padding(toLength: 8, withPad: " ", startingAt: 0)
            guard c["loaded_exits"] as! Int > 0 else {
                s += String(format: " %6d/%-5d  exit 1 does not fit\n", 0, c["exits"] as! Int)
                continue
            }
            s += String(format: " %6d/%-5d  %12.3f  %11.1f  ", c["loaded_exits"] as! Int, c["exits"] as! Int,
                        Double(c["resident_bytes"] as? Int ?? 0) / 1_048_576, 100 * (c["deepest_gflops_fraction"] as? Double ?? 0))
            s += hist.padding(toLength: 28, withPad: " ", startingAt: 0)
            s += String(format: " %8.0f\n", c["swift_us"] as? Double ?? .nan)
        }
        return s
    }
}
