import Foundation
import Testing
@testable import ReflexEngine

@Suite struct CostAndLoadingTests {
    @Test func costModelMatchesTheDocumentedFormulaForTiny() throws {
        let b = try ModelBundle(directory: FixturePaths.bundle("tiny"))
        let m = b.manifest, a = m.architecture
        // tiny: 32×32×3 image, patch 8 → 16 patches of 192 values; T = 1 + L + 16.
        let d = a.width, t = 1 + a.instructionTokens + 16, mlp = a.mlpHidden
        let h = a.head.lstmHidden, mh = a.head.mlpHidden
        let embed = 2 * 16 * 192 * d + 2 * 4 * d
        let block = 2 * t * d * 3 * d + 4 * t * t * d + 2 * t * d * d + 4 * t * d * mlp
        var head = 2 * h * mh + 2 * mh * m.action.dim
        for l in 0..<a.head.lstmLayers { head += 2 * ((l == 0 ? d : h) + h) * 4 * h }
        let exits = a.blocks / a.exitEvery
        #expect(b.cost.exitFLOPs == (1...exits).map { embed + $0 * a.exitEvery * block + ($0 + 1) * head })
        #expect(b.cost.exitFLOPs.count == exits)
    }

    @Test func costModelCountsEveryCameraAndTheChunkHead() throws {
        let b = try ModelBundle(directory: FixturePaths.bundle("tiny-chunked"))
        let m = b.manifest, a = m.architecture
        // image 32×32×3 → 16 patches, wrist_image 16×24×3 → 6 patches, of 192 values each; H = 8, A = 4.
        #expect(m.cameras.map(\.name) == ["image", "wrist_image"])
        #expect(m.chunk == 8 && m.criterionActions == 3 && m.action.periodS == 0.05 && m.actionShape == [8, 4])
        let d = a.width, t = 1 + a.instructionTokens + 16 + 6, mlp = a.mlpHidden
        let h = a.head.lstmHidden, mh = a.head.mlpHidden
        let embed = 2 * (16 + 6) * 192 * d + 2 * 6 * d
        let block = 2 * t * d * 3 * d + 4 * t * t * d + 2 * t * d * d + 4 * t * d * mlp
        let head = 2 * (d + h) * 4 * h + 2 * h * mh + 2 * mh * 8 * 4
        #expect(b.cost.tokens == t)
        #expect(b.cost.exitFLOPs == (1...3).map { embed + $0 * a.exitEvery * block + ($0 + 1) * head })
    }

    @Test func aTwoCameraStepWithTheWrongNumberOfImagesIsATypedError() throws {
        let p = MultiExitPolicy(bundle: try ModelBundle(directory: FixturePaths.bundle("tiny-chunked")))
        var state = p.makeState(), out = p.makeOutput(), rule = FixedExitRule(exit: 1)
        let img = [UInt8](repeating: 0, count: 32 * 32 * 3), st = [Float](repeating: 0, count: 6)
        #expect(throws: EngineError.badInput("1 image(s), the model has 2 camera(s) ([\"image\", \"wrist_image\"])")) {
            try img.withUnsafeBytes { i in try st.withUnsafeBytes { s in
                try p.step(Observation(image: i, state: s, words: p.tokenizer.tokenize("x").ids), state: &state,
                           rule: &rule, workspace: p.makeWorkspace(), output: &out)
            } }
        }
    }

    @Test(arguments: ["tiny", "tiny-readout", "tiny-chunked", "tiny-int8"])
    func partialLoadingHoldsExactlyTheComputedBytes(fixture: String) throws {
        let full = try ModelBundle(directory: FixturePaths.bundle(fixture))
        #expect(full.residentBytes == full.cost.residentBytes.last)
        for n in 1...full.cost.exits {
            let part = try ModelBundle(directory: FixturePaths.bundle(fixture), upToExit: n)
            #expect(part.loadedExits == n)
            #expect(part.residentBytes == full.cost.residentBytes[n - 1])
            #expect(part.sha256 == full.sha256)
        }
        #expect(full.cost.residentBytes == full.cost.residentBytes.sorted())
        #expect(full.cost.residentBytes[0] < full.cost.residentBytes.last!)
    }

    @Test func aPartiallyLoadedModelStopsAtItsLastExitWithTheFullModelsAction() throws {
        let dir = FixturePaths.bundle("tiny")
        let full = MultiExitPolicy(bundle: try ModelBundle(directory: dir))
        let part = MultiExitPolicy(bundle: try ModelBundle(directory: dir, upToExit: 2))
        let img = (0..<(32 * 32 * 3)).map { UInt8(($0 * 7) % 256) }
        let st: [Float] = [0.1, -0.2, 0.3, 0.05]
        let words = full.tokenizer.tokenize("open the drawer").ids
        func run(_ p: MultiExitPolicy, exit: Int) throws -> StepOutput {
            var state = p.makeState(), out = p.makeOutput(), rule = FixedExitRule(exit: exit)
            try img.withUnsafeBytes { i in try st.withUnsafeBytes { s in
                try p.step(Observation(image: i, state: s, words: words), state: &state, rule: &rule,
                           workspace: p.makeWorkspace(), output: &out)
            } }
            return out
        }
        let a = try run(full, exit: 2), b = try run(part, exit: 99)
        #expect(b.exit == 2 && !b.stoppedByRule)
        #expect(a.action == b.action)
        #expect(a.flops == b.flops)
    }

    @Test func wrongInputSizesAreTypedErrors() throws {
        let p = MultiExitPolicy(bundle: try ModelBundle(directory: FixturePaths.bundle("tiny")))
        var state = p.makeState(), out = p.makeOutput(), rule = FixedExitRule(exit: 1)
        let img = [UInt8](repeating: 0, count: 10), st = [Float](repeating: 0, count: 4)
        #expect(throws: EngineError.self) {
            try img.withUnsafeBytes { i in try st.withUnsafeBytes { s in
                try p.step(Observation(image: i, state: s, words: p.tokenizer.tokenize("x").ids), state: &state,
                           rule: &rule, workspace: p.makeWorkspace(), output: &out)
            } }
        }
    }

    @Test func tokenizerLowercasesSplitsPadsTruncatesAndReportsUnknownWords() throws {
        let vocab = BundleManifest.Vocabulary(words: ["<pad>", "<unk>", "open", "the", "drawer"], pad: "<pad>", unknown: "<unk>")
        let tok = InstructionTokenizer(vocabulary: vocab, slots: 4)
        #expect(tok.tokenize("Open the DRAWER!").ids == [2, 3, 4, 0])
        #expect(tok.tokenize("open-the  drawer, now now").ids == [2, 3, 4, 1])
        #expect(tok.tokenize("open-the  drawer, now now").unknownWords == ["now"])
        #expect(tok.tokenize("").ids == [0, 0, 0, 0])
        #expect(tok.tokenize("open the drawer open the").ids == [2, 3, 4, 2])
    }

    /// The same words as the PyTorch reference on the committed cases (NFKC, lower-casing, words of
    /// letters, marks and numbers in any script), and unknown words listed whole.
    @Test func tokenizerSplitsUnicodeAsTheReferenceDoes() throws {
        let url = URL(fileURLWithPath: FixturePaths.bundle("tokenizer-cases.json"))
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: Any]]
        #expect(cases.count >= 10)
        for c in cases {
            let text = c["text"] as! String
            #expect(InstructionTokenizer.words(text) == c["words"] as! [String], "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        let vocab = BundleManifest.Vocabulary(words: ["<pad>", "<unk>", "open", "the", "drawer"], pad: "<pad>", unknown: "<unk>")
        let tok = InstructionTokenizer(vocabulary: vocab, slots: 4)
        let russian = tok.tokenize("открой ящик, ОТКРОЙ the drawer")
        #expect(russian.ids == [1, 1, 1, 3])
        #expect(russian.unknownWords == ["открой", "ящик"])
        #expect(tok.tokenize("ＯＰＥＮ the drawer").ids == [2, 3, 4, 0])
        #expect(tok.tokenize("öffne").unknownWords == ["öffne"])
    }

    /// The bundle's name is `cat manifest.json weights.safetensors calibration.safetensors | sha256sum`.
    @Test func bundleDigestIsTheSHA256OfItsFilesInOrder() throws {
        let dir = FixturePaths.bundle("tiny")
        let bundle = try ModelBundle(directory: dir)
        let sha = Process()
        sha.executableURL = URL(fileURLWithPath: "/bin/sh")
        sha.arguments = ["-c", "cat manifest.json weights.safetensors calibration.safetensors | sha256sum"]
        sha.currentDirectoryURL = URL(fileURLWithPath: dir)
        let pipe = Pipe()
        sha.standardOutput = pipe
        try sha.run()
        sha.waitUntilExit()
        let expected = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        #expect(bundle.sha256 == String(expected))
        // Opened again (a memory cap that moves): the same name, from the cache.
        #expect(try ModelBundle(directory: dir, upToExit: 1).sha256 == bundle.sha256)
    }
}
