import Foundation
import ReflexDaemon

/// Finds and runs the repository's Python tools (PyTorch reference, ONNX Runtime runner,
/// bundle makers) in the project's venv; used by the benchmarks that compare against them.
public struct PythonTools: Sendable {
    public let python: String
    public let toolsDirectory: String

    /// `REFLEX_VENV` or `~/.cache/reflex/venv`; the tools folder given, or found from the
    /// working directory or the executable's location (…/.build/release/reflexctl → repo/tools).
    public init(toolsDirectory: String? = nil) throws {
        let venv = ProcessInfo.processInfo.environment["REFLEX_VENV"] ?? (NSHomeDirectory() + "/.cache/reflex/venv")
        python = venv + "/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw BenchError("no Python venv at \(venv): run tools/setup first")
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let found: [String?] = [toolsDirectory, FileManager.default.currentDirectoryPath + "/tools",
                                 exe.deletingLastPathComponent().appendingPathComponent("../../../tools").standardized.path]
        let candidates = found.compactMap { $0 }
        guard let dir = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/reflex_model/__init__.py") }) else {
            throw BenchError("cannot find the repository's tools/ folder (tried \(candidates)); pass --tools")
        }
        self.toolsDirectory = dir
    }

    /// Runs `python -m module args…`, returning stdout; stderr passes through for progress.
    public func run(module: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-m", module] + args
        var env = ProcessInfo.processInfo.environment
        env["PYTHONPATH"] = [toolsDirectory, toolsDirectory + "/python", env["PYTHONPATH"]].compactMap { $0 }.joined(separator: ":")
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("python -m \(module) failed with status \(p.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    /// The last line of a tool's stdout, parsed as one JSON object.
    public func runJSON(module: String, _ args: [String]) throws -> [String: Any] {
        let out = try run(module: module, args)
        guard let line = out.split(separator: "\n").last,
              let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw BenchError("python -m \(module) printed no JSON line")
        }
        return obj
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
