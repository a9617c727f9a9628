import ArgumentParser
import Foundation
import ReflexDaemon
import ReflexTools

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Mutated hostile inputs through the request decoder and the config loader: every one must get a typed answer.",
        discussion: """
            Deterministic: the same --seed gives the same inputs, and input INDEX alone is rebuilt with \
            --replay INDEX. Exits 1 when an input breaks an invariant; a crash names the input it died on. \
            Figures and how to read them: docs/RELIABILITY.md.
            """)

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case wire, config, all
    }

    @Option(help: "Inputs per target.") var count = 1_000_000
    @Option(help: "Seed of the run.") var seed: UInt64 = 1
    @Option(help: "wire, config or all.") var target: Target = .all
    @Option(help: "Corpus to mutate besides the built-in seeds (wire/*.bin, config/*.yaml); skipped when absent.")
    var corpus = "Tests/Fixtures/fuzz-corpus"
    @Option(help: "A config file added to the config seeds; skipped when absent.") var configSeed = "etc/reflexd.yaml"
    @Option(help: "Rebuild only input INDEX of the run (of --target wire or config), print what it gets.") var replay: Int?
    @Option(help: "With --replay: write the input there (wire: the corpus's .bin framing; config: the YAML).") var out: String?
    @Flag(help: "End with one JSON object on stdout.") var json = false

    func run() throws {
        var seeds = FuzzCorpus.builtIn
        if FileManager.default.fileExists(atPath: corpus) {
            seeds = try FuzzCorpus.load(directory: corpus)
        } else {
            note("no corpus at \(corpus); mutating the built-in seeds only")
        }
        if FileManager.default.fileExists(atPath: configSeed) { try seeds.addConfig(path: configSeed) }
        let targets: [FuzzTarget] = target == .all ? FuzzTarget.allCases : [FuzzTarget(rawValue: target.rawValue)!]

        if let replay {
            guard targets.count == 1 else { throw ValidationError("--replay needs --target wire or --target config") }
            try self.replay(index: replay, target: targets[0], corpus: seeds)
            return
        }

        CrashReporter.install(seed: seed)
        let count = count
        let report = FuzzRun.run(count: count, seed: seed, targets: targets, corpus: seeds) { target, index in
            CrashReporter.current(target: target, index: index)
            if index > 0, index % 100_000 == 0 { note("\(target.rawValue): \(index)/\(count)") }
        }
        print(report.text)
        if json { print(String(decoding: report.jsonValue.jsonBytes, as: UTF8.self)) }
        if !report.passed { throw ExitCode(1) }
    }

    private func replay(index: Int, target: FuzzTarget, corpus: FuzzCorpus) throws {
        switch target {
        case .wire:
            let fuzzer = WireFuzzer(corpus: corpus)
            let input = fuzzer.input(seed: seed, index: index)
            if let out { try Data(FuzzFraming.encode(input.frames)).write(to: URL(fileURLWithPath: out)) }
            print("input \(index): \(input.description)")
            print("frames: " + input.frames.map { String($0.count) }.joined(separator: ", ") + " bytes")
            let outcome = fuzzer.outcome(of: input.frames)
            switch outcome {
            case .dropped: print("outcome: dropped (no routing identity)")
            case .accepted(let request): print("outcome: accepted \(request.header)")
            case .rejected(let error): print("outcome: \(error)")
            }
            for violation in fuzzer.violations(of: input.frames, outcome: outcome) { print("VIOLATION \(violation)") }
        case .config:
            let fuzzer = ConfigFuzzer(corpus: corpus)
            let input = fuzzer.input(seed: seed, index: index)
            if let out { try Data(input.text).write(to: URL(fileURLWithPath: out)) }
            print("input \(index): \(input.description)")
            let outcome = fuzzer.outcome(of: input.text)
            switch outcome {
            case .accepted: print("outcome: accepted")
            case .invalid(let problems): print("outcome: invalid\n" + problems.map(\.description).joined(separator: "\n"))
            }
            for violation in fuzzer.violations(of: input.text, outcome: outcome) { print("VIOLATION \(violation)") }
        }
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("[fuzz] \(text)\n".utf8))
    }
}

/// Names the input a crash happened on, so that `--replay` can rebuild it: on a trap or a fault
/// it writes one line to stderr, puts the previous handler back and returns, so the faulting
/// instruction runs again under that handler (Swift's backtracer, or the default action).
private enum CrashReporter {
    nonisolated(unsafe) static var seed: UInt64 = 0
    nonisolated(unsafe) static var target: Int32 = 0  // 0 wire, 1 config
    nonisolated(unsafe) static var index = -1  // -1: running the seeds as they are
    nonisolated(unsafe) static var previous: [sigaction] = []
    static let signals: [Int32] = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE]

    static func install(seed: UInt64) {
        Self.seed = seed
        previous = signals.map { _ in sigaction() }
        for (slot, signal) in signals.enumerated() {
            var action = sigaction()
            #if os(Linux)
            action.__sigaction_handler.sa_handler = handle
            #else
            action.__sigaction_u.__sa_handler = handle
            #endif
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, &previous[slot])
        }
    }

    static func current(target: FuzzTarget, index: Int) {
        self.target = target == .wire ? 0 : 1
        self.index = index
    }

    /// Only async-signal-safe work: digits into a stack buffer, one write(2).
    static let handle: @convention(c) (Int32) -> Void = { signal in
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 160) { buffer in
            var length = 0
            func append(_ text: StaticString) {
                text.withUTF8Buffer { for byte in $0 where length < buffer.count { buffer[length] = byte; length += 1 } }
            }
            func append(_ number: UInt64) {
                var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                             UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
                var count = 0
                var rest = number
                withUnsafeMutableBytes(of: &digits) { digitBytes in
                    repeat {
                        digitBytes[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                        rest /= 10
                        count += 1
                    } while rest > 0
                    while count > 0, length < buffer.count {
                        count -= 1
                        buffer[length] = digitBytes[count]
                        length += 1
                    }
                }
            }
            guard index >= 0 else {
                append(target == 0 ? StaticString("\n[fuzz] CRASH running the wire seeds (the corpus files) as they are\n")
                                   : StaticString("\n[fuzz] CRASH running the config seeds (the corpus files) as they are\n"))
                _ = write(2, buffer.baseAddress, length)
                return
            }
            append("\n[fuzz] CRASH on input ")
            append(UInt64(index))
            append(target == 0 ? StaticString(" of --target wire --seed ") : StaticString(" of --target config --seed "))
            append(seed)
            append(": rebuild it with `reflexctl fuzz --target ")
            append(target == 0 ? StaticString("wire") : StaticString("config"))
            append(" --seed ")
            append(seed)
            append(" --replay ")
            append(UInt64(index))
            append(" --out FILE`\n")
            _ = write(2, buffer.baseAddress, length)
        }
        if let slot = signals.firstIndex(of: signal) { sigaction(signal, &previous[slot], nil) }
    }
}
