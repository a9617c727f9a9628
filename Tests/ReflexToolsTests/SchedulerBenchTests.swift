import Foundation
import ReflexEngine
import ReflexScheduler
import Testing

@testable import ReflexTools

/// `reflexctl bench scheduler` replays a trace made for one model: a trace of another image
/// size is refused before any case runs, with the command that makes the right one.
@Suite struct SchedulerBenchTests {
    static let tiny = FuzzTests.repository.appendingPathComponent("Tests/Fixtures/tiny").path

    /// A .npy file (format 1.0, C order) of `shape` filled with zeros.
    static func writeNpy(_ path: String, descr: String, shape: [Int], itemBytes: Int) throws {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: shape.reduce(1, *) * itemBytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func trace(side: Int) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reflex-trace-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try writeNpy(dir + "/images.npy", descr: "|u1", shape: [3, side, side, 3], itemBytes: 1)
        try writeNpy(dir + "/states.npy", descr: "<f4", shape: [3, 4], itemBytes: 4)
        try writeNpy(dir + "/episodes.npy", descr: "<f4", shape: [3], itemBytes: 4)
        try writeNpy(dir + "/tasks.npy", descr: "<f4", shape: [3], itemBytes: 4)
        try Data("[\"open the drawer\"]".utf8).write(to: URL(fileURLWithPath: dir + "/instructions.json"))
        return dir
    }

    @Test func aTraceOfAnotherImageSizeIsRefusedWithTheCommandThatMakesTheRightOne() throws {
        let dir = try Self.trace(side: 16)       // the tiny model takes [32, 32, 3]
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bench = SchedulerBench(model: Self.tiny, trace: try SchedulerBench.Trace(directory: dir), threads: 1, log: { _ in })
        do {
            _ = try bench.run()
            Issue.record("a [16, 16, 3] trace ran on a [32, 32, 3] model")
        } catch EngineError.badInput(let message) {
            #expect(message.contains("[16, 16, 3]") && message.contains("[[32, 32, 3]]"))
            #expect(message.contains("make_trace --model \(Self.tiny)"))
        }
    }

    @Test func aTraceOfTheModelsSizeReplaysEveryFrame() throws {
        let dir = try Self.trace(side: 32)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bench = SchedulerBench(model: Self.tiny, trace: try SchedulerBench.Trace(directory: dir), threads: 1, log: { _ in })
        let cases = try bench.run(settings: [.init(name: "1.0", fraction: 1.0, mode: .online, deadlineMs: 50, hog: false)])
        let histogram = try #require(cases.first?["exit_histogram"] as? [Int])
        #expect(histogram.reduce(0, +) == 3 && histogram.last == 3)
    }
}
