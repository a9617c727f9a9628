import Foundation
import ReflexWire
import Testing

@testable import ReflexTools
import ReflexDaemon
import ReflexScheduler

/// Hostile input (issue 5): every file of the committed corpus gets exactly its expected
/// outcome, and a fixed-seed run of fuzzed inputs holds every invariant of the decoder and the
/// config loader. The full run (10^6 inputs) is `reflexctl fuzz`; see docs/RELIABILITY.md.
@Suite struct FuzzTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let corpusDirectory = repository.appendingPathComponent("Tests/Fixtures/fuzz-corpus")
    static let seed: UInt64 = 20_261_129

    /// `expected.json`: `{"wire": {file: outcome}, "config": {file: "LINE:COLUMN: message start"}}`.
    static func expected(_ section: String) throws -> [String: String] {
        let data = try Data(contentsOf: corpusDirectory.appendingPathComponent("expected.json"))
        guard case .object(let root) = try WireJSON.parse(Array(data)), case .object(let entries)? = root[section] else {
            throw CocoaError(.fileReadCorruptFile)
        }
        var result: [String: String] = [:]
        for (name, value) in entries.members {
            guard case .string(let text) = value else { throw CocoaError(.fileReadCorruptFile) }
            result[name] = text
        }
        return result
    }

    static func files(_ folder: String, ending suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: corpusDirectory.appendingPathComponent(folder).path)
            .filter { $0.hasSuffix(suffix) }.sorted()
    }

    static func corpus() throws -> FuzzCorpus {
        var corpus = try FuzzCorpus.load(directory: corpusDirectory.path)
        try corpus.addConfig(path: repository.appendingPathComponent("etc/reflexd.yaml").path)
        return corpus
    }

    // MARK: The corpus

    @Test func everyWireCorpusFileGetsExactlyItsExpectedOutcome() throws {
        let expected = try Self.expected("wire")
        let names = try Self.files("wire", ending: ".bin")
        #expect(names == expected.keys.sorted(), "expected.json lists exactly the files")
        #expect(names.count >= 90)
        let fuzzer = WireFuzzer()
        for name in names {
            let data = try Data(contentsOf: Self.corpusDirectory.appendingPathComponent("wire/\(name)"))
            let frames = try #require(FuzzFraming.decode(Array(data)), "\(name) is not in the corpus framing")
            let outcome = fuzzer.outcome(of: frames)
            #expect(outcome.name == expected[name], "\(name): \(outcome)")
            #expect(fuzzer.violations(of: frames, outcome: outcome).isEmpty, "\(name)")
        }
    }

    @Test func everyConfigCorpusFileGetsExactlyItsExpectedFirstProblem() throws {
        let expected = try Self.expected("config")
        let names = try Self.files("config", ending: ".yaml")
        #expect(names == expected.keys.sorted(), "expected.json lists exactly the files")
        #expect(names.count >= 40)
        for name in names {
            let path = Self.corpusDirectory.appendingPathComponent("config/\(name)").path
            do {
                _ = try ConfigLoader.load(path: path)
                Issue.record("\(name) loaded; expected \(expected[name] ?? "?")")
            } catch {
                let first = try #require(error.problems.first)
                #expect(first.file == path)
                let shown = "\(first.line ?? 0):\(first.column ?? 0): \(first.message)"
                #expect(shown.hasPrefix(expected[name] ?? "?"), "\(name): \(shown.prefix(200))")
            }
        }
    }

    @Test func theBuiltInSeedsAreValid() {
        let wire = WireFuzzer()
        for seed in FuzzCorpus.builtIn.wire {
            #expect(wire.outcome(of: seed.frames).name == "accepted", "\(seed.name)")
        }
        let config = ConfigFuzzer()
        for seed in FuzzCorpus.builtIn.config {
            #expect(config.outcome(of: seed.text).name == "accepted", "\(seed.name)")
        }
    }

    @Test func theFramingRoundTripsAndReadsAnyBytesLeniently() throws {
        let frames: [[UInt8]] = [[0, 1], [], Array(repeating: 9, count: 300)]
        let bytes = FuzzFraming.encode(frames)
        #expect(bytes.count == 4 * 3 + 2 + 300)
        #expect(Array(bytes[0..<6]) == [2, 0, 0, 0, 0, 1])
        #expect(FuzzFraming.decode(bytes) == frames)
        #expect(FuzzFraming.decode([]) == [])
        #expect(FuzzFraming.decode(Array(bytes.dropLast())) == nil)
        #expect(FuzzFraming.decodeLenient(Array(bytes.dropLast())).last?.count == 299)
        #expect(FuzzFraming.decodeLenient([5, 0]) == [[5, 0]])
    }

    // MARK: Fuzzing with a fixed budget

    @Test func tenThousandFuzzedWireInputsHoldEveryInvariant() throws {
        let report = WireFuzzer(corpus: try Self.corpus()).run(count: 10_000, seed: Self.seed)
        #expect(report.violationCount == 0, "\(report.violations)")
        #expect(report.inputs == 10_000)
        // The run reaches every outcome the decoder has, acceptance included.
        for outcome in ["accepted", "dropped", "bad_header", "unknown_type", "bad_tensor", "too_large"] {
            #expect(report.outcomes[outcome, default: 0] > 0, "no input came out \(outcome): \(report.outcomes)")
        }
        #expect(report.outcomes.values.reduce(0, +) == 10_000)
    }

    @Test func twoThousandFuzzedConfigsHoldEveryInvariant() throws {
        let report = ConfigFuzzer(corpus: try Self.corpus()).run(count: 2_000, seed: Self.seed)
        #expect(report.violationCount == 0, "\(report.violations)")
        #expect(report.inputs == 2_000)
        #expect(report.outcomes["accepted", default: 0] > 0)
        #expect(report.outcomes["invalid", default: 0] > 0)
    }

    @Test func anInputIsRebuiltFromTheSeedAndItsIndexAlone() throws {
        let corpus = try Self.corpus()
        let wire = WireFuzzer(corpus: corpus)
        #expect(wire.input(seed: 5, index: 123).frames == WireFuzzer(corpus: corpus).input(seed: 5, index: 123).frames)
        #expect(wire.input(seed: 5, index: 123).frames != wire.input(seed: 5, index: 124).frames)
        let config = ConfigFuzzer(corpus: corpus)
        #expect(config.input(seed: 5, index: 77).text == config.input(seed: 5, index: 77).text)
        let report = FuzzRun.run(count: 50, seed: 9, targets: [.wire], corpus: corpus)
        let again = FuzzRun.run(count: 50, seed: 9, targets: [.wire], corpus: corpus)
        #expect(report.targets[0].outcomes == again.targets[0].outcomes)
    }

    @Test func splitMix64GivesTheReferenceStream() {
        // Reference outputs of SplitMix64 from state 0 (Vigna's splitmix64.c).
        var rng = SplitMix64(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
        var bounded = SplitMix64(seed: 1)
        for _ in 0..<1000 { #expect((0..<7).contains(bounded.below(7))) }
    }

    @Test func theReportPrintsAsOneJSONObject() throws {
        let report = FuzzRun.run(count: 20, seed: 1)
        #expect(report.targets.map(\.target) == [.wire, .config])
        guard case .object(let object) = try WireJSON.parse(report.jsonValue.jsonBytes),
              case .array(let targets)? = object["targets"], case .object(let wire)? = targets.first else {
            Issue.record("not an object with targets")
            return
        }
        #expect(object["passed"] == .bool(true))
        #expect(wire["inputs"] == .number(JSONNumber(20)))
        #expect(wire["inputs_per_s"] != nil && wire["slowest"] != nil && wire["outcomes"] != nil)
    }

    // MARK: What fuzzing found

    /// YAML 1.1 reads `1:0:0:...` as a base-60 integer; Yams multiplies its parts without
    /// overflow checks, so a long one trapped `--check-config`, start-up and a SIGHUP reload.
    /// Base-60 numbers are now refused before Yams reads them (ConfigTests has the rule).
    @Test func baseSixtyIntegersPastIntMaxAreAProblemNotATrap() throws {
        let path = "/etc/reflexd/reflexd.yaml"
        for (yaml, message) in [
            ("scheduler:\n  window: 1:0:0:0:0:0:0:0:0:0:0:0:0\n", "scheduler.window: write the number in plain decimal"),
            ("engine:\n  threads: -9223372036854775807:59\n", "engine.threads: write the number in plain decimal"),
            ("budget:\n  memory_mb: 99:59:59:59:59:59:59:59:59:59:59:59\n", "budget.memory_mb: write the number in plain decimal"),
        ] {
            do {
                _ = try ConfigLoader.load(yaml: "model: m\n" + yaml, path: path)
                Issue.record("loaded \(yaml)")
            } catch {
                #expect(error.problems.map(\.line) == [3])
                #expect(error.problems.first?.message.hasPrefix(message) == true, "\(error)")
            }
        }
    }

    /// A declared shape of thousands of dimensions was echoed whole into the error reply (and
    /// the debug log line): now only its first dimensions and its length are.
    @Test func aHugeDeclaredShapeIsNotEchoedWhole() throws {
        let shape = [String](repeating: "1", count: 5000).joined(separator: ",")
        let header = #"{"v":1,"type":"step","robot":"r","seq":1,"instruction":"x","tensors":[{"name":"image","dtype":"uint8","shape":["#
            + shape + #"]},{"name":"state","dtype":"float32","shape":[4]}]}"#
        let fuzzer = WireFuzzer()
        let outcome = fuzzer.outcome(of: [FuzzSeeds.identity, Array(header.utf8), FuzzSeeds.image, FuzzSeeds.state])
        guard case .rejected(let error) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(error.code == .badTensor)
        #expect(error.message.utf8.count < 200, "\(error.message.count) characters")
        #expect(error.message.hasSuffix("got [1, 1, 1, 1, 1, 1, 1, 1, … (5000 dimensions)]"))
    }
}
