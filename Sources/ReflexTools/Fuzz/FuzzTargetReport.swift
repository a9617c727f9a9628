import ReflexDaemon
import ReflexWire
/// What fuzzing one target found: how every input came out, what broke, and how fast it went.
public struct FuzzTargetReport: Sendable {
    /// Inputs slower than this (decode or load only) are counted as slow.
    public static let slowMicroseconds = 10_000.0
    /// Violations kept in full; past this only `violationCount` grows.
    public static let keptViolations = 20

    public var target: FuzzTarget
    public var seed: UInt64
    public var inputs = 0
    /// Seeds the mutations started from (corpus files and built-in ones).
    public var seedCount = 0
    /// Inputs per outcome: `accepted`, an error code of CONTRACT section 5 and, for the wire,
    /// `dropped` (no routing identity); for the config, `invalid`.
    public var outcomes: [String: Int] = [:]
    public var violationCount = 0
    /// The first `keptViolations` violations.
    public var violations: [FuzzViolation] = []
    /// Inputs whose decode (or load) took over `slowMicroseconds` of the thread's CPU time.
    /// CPU time, not wall time: on a shared machine a preempted input would look slow.
    public var slowInputs = 0
    /// The slowest input by CPU time: its index, time and description.
    public var slowestIndex = 0
    public var slowestMicroseconds = 0.0
    public var slowestInput = ""
    /// Mean decode (or load) CPU time per input.
    public var meanMicroseconds = 0.0
    /// The same in wall-clock time: the longest any input took, and how many took over
    /// `slowMicroseconds` (preemption included).
    public var slowestWallMicroseconds = 0.0
    public var slowWallInputs = 0
    /// Largest input, in bytes (all frames, or the YAML text).
    public var largestInputBytes = 0
    /// The whole run: generating, decoding and checking.
    public var elapsedSeconds = 0.0
    /// The process's peak resident memory when the run ended (a bound on what any input made
    /// the decoder allocate, touched), and how much it grew during the run.
    public var peakResidentBytes = 0
    public var peakResidentGrowthBytes = 0

    public init(target: FuzzTarget, seed: UInt64) {
        self.target = target
        self.seed = seed
    }

    public var inputsPerSecond: Double { elapsedSeconds > 0 ? Double(inputs) / elapsedSeconds : 0 }

    public var jsonValue: WireJSON {
        var outcomeObject = JSONObject()
        for (key, count) in outcomes.sorted(by: { $0.key < $1.key }) { outcomeObject[key] = .number(JSONNumber(count)) }
        let object: JSONObject = [
            "target": .string(target.rawValue),
            "seed": .number(JSONNumber(seed)),
            "inputs": .number(JSONNumber(inputs)),
            "seeds": .number(JSONNumber(seedCount)),
            "outcomes": .object(outcomeObject),
            "violations": .number(JSONNumber(violationCount)),
            "violation_examples": .array(violations.map { .string($0.description) }),
            "slow_inputs": .number(JSONNumber(slowInputs)),
            "slow_threshold_us": Self.number(Self.slowMicroseconds),
            "slowest": .object([
                "index": .number(JSONNumber(slowestIndex)), "us": Self.number(slowestMicroseconds),
                "input": .string(slowestInput),
            ]),
            "mean_us": Self.number(meanMicroseconds),
            "slowest_wall_us": Self.number(slowestWallMicroseconds),
            "slow_wall_inputs": .number(JSONNumber(slowWallInputs)),
            "largest_input_bytes": .number(JSONNumber(largestInputBytes)),
            "elapsed_s": Self.number(elapsedSeconds),
            "inputs_per_s": Self.number(inputsPerSecond),
            "peak_rss_bytes": .number(JSONNumber(peakResidentBytes)),
            "peak_rss_growth_bytes": .number(JSONNumber(peakResidentGrowthBytes)),
        ]
        return .object(object)
    }

    private static func number(_ value: Double) -> WireJSON {
        JSONNumber((value * 1000).rounded() / 1000).map(WireJSON.number) ?? .null
    }
}
