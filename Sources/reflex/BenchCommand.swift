import ArgumentParser
import Foundation
import ReflexDaemon

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print JSON (--json) against a baseline measured in the same run.",
        subcommands: [EngineBenchCommand.self])
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

    @Option(help: "Configurations: default, large (comma-separated).") var configs = "default,large"
    @Option(help: "Thread counts (comma-separated).") var threads = "1,2"
    @Option(help: "Timed iterations for the default config.") var iterations = 200
    @Option(help: "Timed iterations for the large config.") var largeIterations = 20
    @Flag(help: "Skip PyTorch and ONNX Runtime (Swift and sgemm only).") var noPython = false
    @Option(help: "The repository's tools/ folder (found automatically when run from the repository).") var tools: String?
    @Flag(help: "End with one JSON line.") var json = false

    func run() throws {
        var o = EngineBench.Options()
        o.configs = configs.split(separator: ",").map(String.init)
        o.threads = threads.split(separator: ",").compactMap { Int($0) }
        o.iterations = ["default": iterations, "large": largeIterations]
        o.withPython = !noPython
        let bench = EngineBench(options: o, tools: try PythonTools(toolsDirectory: tools), log: progress)
        let cases = try bench.run()
        try printReport(cases, extra: ["benchmark": "engine"], json: json, table: EngineBench.table(cases))
    }
}
