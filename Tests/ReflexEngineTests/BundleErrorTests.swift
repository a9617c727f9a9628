import Foundation
import Testing
@testable import ReflexEngine

/// Bad bundles give a clear error naming the file, key or tensor — never a crash.
@Suite struct BundleErrorTests {
    func expectError(_ dir: String, contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ModelBundle(directory: dir)
            Issue.record("opening \(dir) should fail with '\(text)'", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(text), "error '\(error)' should contain '\(text)'", sourceLocation: sourceLocation)
        }
    }

    func editManifest(_ dir: String, _ edit: (inout [String: Any]) -> Void) throws {
        let path = dir + "/manifest.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
    }

    @Test func chunkManifestsAreChecked() throws {
        func edited(_ fixture: String, _ edit: @escaping (inout [String: Any]) -> Void) throws -> String {
            let dir = try FixturePaths.scratchCopy(of: fixture)
            try editManifest(dir, edit)
            return dir
        }
        func action(_ key: String, _ value: Any?) -> (inout [String: Any]) -> Void {
            { m in var a = m["action"] as! [String: Any]; a[key] = value; m["action"] = a }
        }
        expectError(try edited("tiny", action("chunk", 8)), contains: "action.chunk and criterion.first_actions need format_version 2")
        expectError(try edited("tiny-chunked", action("period_s", nil)), contains: "action.period_s (seconds) is required when action.chunk > 1")
        expectError(try edited("tiny-chunked", action("period_s", 0)), contains: "action.period_s must be > 0")
        expectError(try edited("tiny-chunked", action("chunk", 0)), contains: "action.chunk must be an integer in 1 … 4096")
        expectError(try edited("tiny-chunked") { m in
            var c = m["criterion"] as! [String: Any]; c["first_actions"] = 9; m["criterion"] = c
        }, contains: "criterion.first_actions must be in 1 … action.chunk (8), is 9")
        expectError(try edited("tiny-chunked") { m in
            m["inputs"] = (m["inputs"] as! [[String: Any]]).filter { $0["name"] as? String == "state" }
        }, contains: "inputs must include at least one camera")
        expectError(try edited("tiny-chunked") { m in
            var inputs = m["inputs"] as! [[String: Any]]; inputs[1]["shape"] = [12, 24, 3]; m["inputs"] = inputs
        }, contains: "inputs.wrist_image must be uint8 [H, W, C] with H and W multiples of patch_size 8")
        expectError(try edited("tiny") { m in m["format_version"] = 3 }, contains: "format_version 3 is not supported (1, 2)")
    }

    @Test func missingDirectoryIsNamed() {
        expectError("/nonexistent/bundle", contains: "/nonexistent/bundle: no such bundle directory")
    }

    @Test func missingManifestIsNamed() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        try FileManager.default.removeItem(atPath: dir + "/manifest.json")
        expectError(dir, contains: "manifest.json")
    }

    @Test func missingWeightsFileIsNamed() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        try FileManager.default.removeItem(atPath: dir + "/weights.safetensors")
        expectError(dir, contains: "missing file: \(dir)/weights.safetensors")
    }

    @Test func manifestMissingKeyNamesTheKey() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        try editManifest(dir) { m in
            var a = m["architecture"] as! [String: Any]; a.removeValue(forKey: "width"); m["architecture"] = a
        }
        expectError(dir, contains: "missing key 'architecture.width'")
    }

    /// A manifest names files inside its bundle; a path out of it is refused, never read.
    @Test func manifestFilePathsOutsideTheBundleAreRefused() throws {
        for (key, value) in [("weights", "../tiny-readout/weights.safetensors"), ("weights", "/etc/passwd"),
                             ("calibration", ".."), ("weights", "")] {
            let dir = try FixturePaths.scratchCopy(of: "tiny")
            try editManifest(dir) { $0[key] = value }
            expectError(dir, contains: "\(key) must be a file name inside the bundle directory, is '\(value)'")
        }
    }

    /// A reload that opens a bundle while a new one is renamed into its place reads one bundle
    /// whole: files are read relative to the directory the path named when opening began.
    @Test func aBundleDirectoryReplacedWhileOpenIsStillTheOneRead() throws {
        let root = NSTemporaryDirectory() + "reflex-swap-\(UUID().uuidString)"
        let live = root + "/current"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data("old".utf8).write(to: URL(fileURLWithPath: live + "/manifest.json"))
        let opened = try BundleDirectory(live)
        try FileManager.default.moveItem(atPath: live, toPath: root + "/previous")
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try Data("new".utf8).write(to: URL(fileURLWithPath: live + "/manifest.json"))
        let read = FileManager.default.contents(atPath: try opened.readPath("manifest.json"))
        #expect(read == Data("old".utf8))
        #expect(throws: EngineError.self) { try opened.readPath("weights.safetensors") }
    }

    @Test func manifestThatIsNotJSONIsReported() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
        expectError(dir, contains: "bad manifest: not valid JSON")
    }

    @Test func manifestWithBlocksNotAMultipleOfExitEveryIsRejected() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        try editManifest(dir) { m in
            var a = m["architecture"] as! [String: Any]; a["exit_every"] = 4; m["architecture"] = a
        }
        expectError(dir, contains: "is not a multiple of exit_every 4")
    }

    @Test func shapeDisagreeingWithManifestNamesTheTensor() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        try editManifest(dir) { m in
            var a = m["architecture"] as! [String: Any]; a["mlp_hidden"] = (a["mlp_hidden"] as! Int) + 1; m["architecture"] = a
        }
        expectError(dir, contains: "tensor 'blocks.0.mlp.fc1.weight': shape")
    }

    @Test func truncatedWeightsAreReported() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        let path = dir + "/weights.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: path))
        expectError(dir, contains: "truncated file?")
    }

    @Test func garbageHeaderLengthIsReported() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        let path = dir + "/weights.safetensors"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        for i in 0..<8 { data[i] = 0xff }
        try data.write(to: URL(fileURLWithPath: path))
        expectError(dir, contains: "bad header length")
    }

    @Test func headerThatIsNotJSONIsReported() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        let path = dir + "/weights.safetensors"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[8] = UInt8(ascii: "#")
        try data.write(to: URL(fileURLWithPath: path))
        expectError(dir, contains: "header is not a JSON object")
    }

    @Test func missingAndExtraTensorsAreNamed() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny")
        let path = dir + "/weights.safetensors"
        let file = try SafetensorsFile(path: path)
        var tensors = try file.entries.keys.map { ($0, try file.read($0, shape: file.entries[$0]!.shape)) }
        tensors.removeAll { $0.0 == "head.mlp.fc2.bias" }
        try SafetensorsWriter.write(tensors, to: path)
        expectError(dir, contains: "tensor 'head.mlp.fc2.bias': missing from weights.safetensors")
        tensors.append(("head.mlp.fc2.bias", Tensor(shape: [4])))
        tensors.append(("blocks.99.stray", Tensor(shape: [2])))
        try SafetensorsWriter.write(tensors, to: path)
        expectError(dir, contains: "tensor 'blocks.99.stray': not part of the architecture")
    }

    @Test func openingPastTheLastExitIsRejected() throws {
        #expect(throws: EngineError.self) { try ModelBundle(directory: FixturePaths.bundle("tiny"), upToExit: 9) }
        #expect(throws: EngineError.self) { try ModelBundle(directory: FixturePaths.bundle("tiny"), upToExit: 0) }
    }
}

/// Writes float32 safetensors for tests that need to build or damage weight files.
enum SafetensorsWriter {
    static func write(_ tensors: [(String, Tensor)], to path: String) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, t) in tensors {
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + t.byteCount]]
            offset += t.byteCount
        }
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out = Data()
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors { out.append(Data(bytes: t.data, count: t.byteCount)) }
        try out.write(to: URL(fileURLWithPath: path))
    }
}
