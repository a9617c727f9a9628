import ReflexDaemon
/// A deterministic mutational fuzzer for the config loader (`ConfigLoader.load(yaml:path:)`),
/// the one way `reflexd` reads a config: at start, on `--check-config`, SIGHUP and `reload`.
///
/// Seeds are valid configs (built in, and `etc/reflexd.yaml` when the caller adds it) and the
/// corpus of malformed ones; `ConfigMutator` stacks a few mutations on one. Every input must
/// load as a config within the documented ranges, or be refused with located problems; a
/// trap would take the daemon down on a reload.
public struct ConfigFuzzer: Sendable {
    /// The path inputs are loaded as: problems name it, relative paths resolve against `/fuzz`.
    public static let path = "/fuzz/reflexd.yaml"

    public let seeds: [(name: String, text: [UInt8])]
    /// The seeds that load; a third of the inputs start from one of them.
    private let acceptedSeeds: [Int]
    private let mutator: ConfigMutator

    public init(corpus: FuzzCorpus = .builtIn) {
        let seeds = corpus.config.isEmpty ? FuzzCorpus.builtIn.config : corpus.config
        self.seeds = seeds
        mutator = ConfigMutator(donors: seeds.map(\.text))
        acceptedSeeds = seeds.indices.filter {
            if case .accepted = Self.load(seeds[$0].text) { return true } else { return false }
        }
    }

    /// One generated input and how it was made.
    public struct Input: Sendable {
        public var text: [UInt8]
        public var seedName: String
        public var mutations: [String]
        public var description: String { StackedMutations.describe(seedName: seedName, mutations: mutations) }
    }

    public func input(seed: UInt64, index: Int) -> Input {
        let made = generate(seed: seed, index: index)
        return Input(text: made.item, seedName: seeds[made.seedIndex].name, mutations: made.mutations.map { "\($0)" })
    }

    private func generate(seed: UInt64, index: Int) -> (item: [UInt8], seedIndex: Int, mutations: [StaticString]) {
        StackedMutations.generate(seedCount: seeds.count, acceptedSeeds: acceptedSeeds, seed: seed, stream: 2,
                                  index: index, seedItem: { seeds[$0].text }, mutate: { mutator.mutate(&$0, rng: &$1) })
    }

    // MARK: Running one input

    public enum Outcome: Sendable {
        case accepted(DaemonConfig)
        case invalid([ConfigProblem])

        public var name: String {
            switch self {
            case .accepted: return "accepted"
            case .invalid: return "invalid"
            }
        }
    }

    /// Loads `text` as the file `path`. Bytes that are not UTF-8 are read as the loader's
    /// caller would have to pass them: decoded with replacement characters (the loader's own
    /// UTF-8 check, in `load(path:)`, is covered by the corpus).
    public func outcome(of text: [UInt8]) -> Outcome {
        Self.load(text)
    }

    private static func load(_ text: [UInt8]) -> Outcome {
        do {
            return .accepted(try ConfigLoader.load(yaml: String(decoding: text, as: UTF8.self), path: Self.path))
        } catch {
            return .invalid(error.problems)
        }
    }

    public func violations(of text: [UInt8], outcome: Outcome) -> [String] {
        switch outcome {
        case .invalid(let problems):
            return problemViolations(problems, text: text)
        case .accepted(let config):
            return configViolations(config)
        }
    }

    private func problemViolations(_ problems: [ConfigProblem], text: [UInt8]) -> [String] {
        guard !problems.isEmpty else { return ["refused with no problem listed"] }
        var found: [String] = []
        // libyaml counts "\r", "\n" and "\r\n" (and, in YAML 1.1, NEL and the Unicode line and
        // paragraph separators) as line breaks; a problem may sit on the line after the last.
        let lineBreaks = String(decoding: text, as: UTF8.self).unicodeScalars.reduce(into: 0) { count, scalar in
            if ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"].contains(scalar) { count += 1 }
        }
        for problem in problems {
            if problem.file != Self.path { found.append("a problem names file \(problem.file ?? "nil")") }
            guard let line = problem.line, let column = problem.column, line >= 1, column >= 1 else {
                found.append("a problem at \(problem.line.map(String.init) ?? "nil"):\(problem.column.map(String.init) ?? "nil")")
                continue
            }
            if line > lineBreaks + 2 { found.append("a problem at line \(line) of a text with \(lineBreaks) line breaks") }
            if problem.message.isEmpty { found.append("a problem with no message") }
        }
        let positions = problems.map { ($0.line ?? 0, $0.column ?? 0) }
        if zip(positions, positions.dropFirst()).contains(where: { $0 > $1 }) { found.append("problems out of file order") }
        return found
    }

    /// An accepted config must hold only what CONTRACT section 4 and the shipped file allow.
    private func configViolations(_ config: DaemonConfig) -> [String] {
        var found: [String] = []
        func require(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition { found.append(message()) }
        }
        require(config.file == Self.path, "file \(config.file ?? "nil")")
        require(config.model.hasPrefix("/"), "model \(config.model) is not absolute")
        let endpoints = [config.endpoints.policy, config.endpoints.actions, config.endpoints.control]
        require(Set(endpoints).count == 3, "endpoints \(endpoints) are not distinct")
        for endpoint in endpoints {
            guard case .success(let address) = EndpointAddress.parse(endpoint, baseDirectory: nil) else {
                found.append("endpoint \(endpoint) does not parse")
                continue
            }
            if endpoint == config.endpoints.control {
                require(address.isLocalOnly || config.security.curve.enabled, "control \(endpoint) on the network without CURVE")
            }
        }
        switch config.budget.average {
        case .fraction(let value): require(ConfigRules.averageFraction.accepts(value), "average_fraction \(value)")
        case .gflops(let value): require(ConfigRules.averageGflops.accepts(value), "average_gflops \(value)")
        }
        if let value = config.budget.deadlineMs { require(ConfigRules.deadlineMs.accepts(value), "deadline_ms \(value)") }
        if let value = config.budget.memoryMB { require(ConfigRules.memoryMB.accepts(value), "memory_mb \(value)") }
        require(config.scheduler.probeRate >= 0 && config.scheduler.probeRate < 1, "probe_rate \(config.scheduler.probeRate)")
        require(ConfigRules.window.range.contains(config.scheduler.window), "window \(config.scheduler.window)")
        require(ConfigRules.threads.range.contains(config.engine.threads), "threads \(config.engine.threads)")
        require(ConfigRules.maxMessageBytes.range.contains(config.limits.maxMessageBytes), "max_message_bytes")
        require(ConfigRules.maxSessions.range.contains(config.limits.maxSessions), "max_sessions")
        require(ConfigRules.pendingPerRobot.range.contains(config.limits.pendingPerRobot), "pending_per_robot")
        require(ConfigRules.sessionIdleS.accepts(config.limits.sessionIdleS), "session_idle_s \(config.limits.sessionIdleS)")
        // The conversions the daemon makes from these values must not trap (1e11 s once did).
        require(config.limits.sessionIdleS * 1e9 < Double(UInt64.max), "session_idle_s overflows nanoseconds")
        if let memory = config.budget.memoryMB { require(memory * 1_048_576 < Double(Int.max), "memory_mb overflows bytes") }
        if config.security.curve.enabled {
            require(config.security.curve.serverSecretKey != nil && config.security.curve.authorizedKeys != nil,
                    "CURVE enabled without key paths")
        }
        return found
    }

    // MARK: A run

    /// Runs inputs `0..<count` of `seed`; `willRun` as for `WireFuzzer.run`.
    public func run(count: Int, seed: UInt64, willRun: ((Int) -> Void)? = nil) -> FuzzTargetReport {
        var tally = FuzzTally(target: .config, seed: seed, seedCount: seeds.count)
        for index in 0..<count {
            willRun?(index)
            let made = generate(seed: seed, index: index)
            let text = made.item
            let (outcome, time) = FuzzTime.measure { self.outcome(of: text) }
            var problems = violations(of: text, outcome: outcome)
            if index % 16 == 0, self.outcome(of: text).name != outcome.name { problems.append("a second load differs") }
            tally.record(
                index: index, outcome: outcome.name, time: time, bytes: text.count, violations: problems,
                describe: { StackedMutations.describe(seedName: seeds[made.seedIndex].name, mutations: made.mutations) })
        }
        return tally.finish()
    }
}
