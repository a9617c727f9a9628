import Foundation
import Testing
@testable import ReflexEngine

/// The Swift engine against the PyTorch reference's recorded episode (docs/MODEL_FORMAT.md), at
/// 1e-4 (relative to the largest value) + 1e-5 for every fixture. For `tiny-int8` the reference
/// computes with the dequantised weights q · scale (fake quantisation), so the same tolerance holds.
@Suite struct ParityTests {
    struct EpisodeStep: Decodable {
        let instruction: String
        let thresholds: [Double]
        let exit: Int
        let unknown_words: [String]
    }

    /// Records what the engine shows the stop rule, while applying the fixture's thresholds.
    struct RecordingRule: StopRule {
        var thresholds: [Float]
        var features: [[Float]] = []
        var actions: [[Float]] = []
        mutating func shouldStop(at p: ExitPoint) -> Bool {
            if p.exit == 1 { features.append(Array(p.previousFeature)); actions.append(Array(p.previousAction)) }
            features.append(Array(p.feature)); actions.append(Array(p.action))
            return p.distance <= thresholds[p.exit - 1]
        }
    }

    static func assertClose(_ got: [Float], _ want: [Float], _ what: String, rtol: Float = 1e-4, atol: Float = 1e-5) {
        #expect(got.count == want.count, "\(what): \(got.count) values, expected \(want.count)")
        let scale = max(want.map { abs($0) }.max() ?? 0, 1e-3)
        for (i, (g, w)) in zip(got, want).enumerated() where abs(g - w) > atol + rtol * scale {
            Issue.record("\(what)[\(i)]: \(g) vs reference \(w)")
            return
        }
    }

    /// Calls `body` with every image's bytes at once.
    static func withBytes(_ images: [[UInt8]], _ done: [UnsafeRawBufferPointer] = [],
                          _ body: ([UnsafeRawBufferPointer]) throws -> Void) throws {
        guard let first = images.first else { return try body(done) }
        try first.withUnsafeBytes { try withBytes(Array(images.dropFirst()), done + [$0], body) }
    }

    @Test(arguments: ["tiny", "tiny-readout", "tiny-chunked", "tiny-int8"], [1, 2, 3])
    func engineMatchesPyTorchReferenceOverAnEpisode(fixture: String, threads: Int) throws {
        let dir = FixturePaths.bundle(fixture)
        let policy = MultiExitPolicy(bundle: try ModelBundle(directory: dir))
        let steps = try JSONDecoder().decode([EpisodeStep].self,
                                             from: Data(contentsOf: URL(fileURLWithPath: dir + "/episode.json")))
        let ref = try SafetensorsFile(path: dir + "/episode.safetensors")
        func tensor(_ name: String) throws -> [Float] {
            try ref.read(name, shape: ref.entries[name]?.shape ?? []).toArray()
        }
        let ws = policy.makeWorkspace(threads: threads)
        var state = policy.makeState()
        var out = policy.makeOutput()
        var exitsSeen = Set<Int>()
        // a: the values of one action chunk (H·A; A when H = 1).
        let d = policy.manifest.architecture.width, a = policy.manifest.chunk * policy.manifest.action.dim
        for (t, s) in steps.enumerated() {
            let images = try policy.manifest.cameras.map { try tensor("step\(t).\($0.name)").map { UInt8($0) } }
            let st = try tensor("step\(t).state")
            let tok = policy.tokenizer.tokenize(s.instruction)
            #expect(tok.ids.map { Float($0) } == (try tensor("step\(t).word_ids")), "step \(t) word ids")
            #expect(tok.unknownWords == s.unknown_words, "step \(t) unknown words")
            var rule = RecordingRule(thresholds: s.thresholds.map { Float($0) })
            try Self.withBytes(images) { imgs in
                try st.withUnsafeBytes { stb in
                    try policy.step(Observation(images: imgs, state: stb, words: tok.ids), state: &state,
                                    rule: &rule, workspace: ws, output: &out)
                }
            }
            #expect(out.exit == s.exit, "step \(t): exit \(out.exit), reference \(s.exit)")
            exitsSeen.insert(out.exit)
            let feats = try tensor("step\(t).features"), acts = try tensor("step\(t).actions")
            for i in 0...out.exit {
                Self.assertClose(rule.features[i], Array(feats[(i * d)..<((i + 1) * d)]), "step \(t) feature \(i)")
                Self.assertClose(rule.actions[i], Array(acts[(i * a)..<((i + 1) * a)]), "step \(t) action \(i)")
            }
            Self.assertClose(out.distances, try tensor("step\(t).distances"), "step \(t) distances")
            Self.assertClose(out.action, try tensor("step\(t).action"), "step \(t) action")
            Self.assertClose(state.h, try tensor("step\(t).h"), "step \(t) h")
            Self.assertClose(state.c, try tensor("step\(t).c"), "step \(t) c")
            #expect(out.flops == policy.cost.exitFLOPs[out.exit - 1])
        }
        #expect(exitsSeen.count >= 3, "the episode should exercise several exits, saw \(exitsSeen.sorted())")
    }
}
