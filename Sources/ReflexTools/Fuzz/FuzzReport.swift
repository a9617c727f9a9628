import ReflexDaemon
import ReflexWire
/// The result of `FuzzRun.run`: one report per target fuzzed.
public struct FuzzReport: Sendable {
    public var targets: [FuzzTargetReport]

    public init(targets: [FuzzTargetReport]) {
        self.targets = targets
    }

    /// True when no input broke an invariant.
    public var passed: Bool { targets.allSatisfy { $0.violationCount == 0 } }

    /// `{"passed": true, "targets": [...]}`, as `reflexctl fuzz --json` prints it.
    public var jsonValue: WireJSON {
        .object(["passed": .bool(passed), "targets": .array(targets.map(\.jsonValue))])
    }

    /// A few lines per target for a person.
    public var text: String {
        var lines: [String] = []
        for report in targets {
            let outcomes = report.outcomes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }
            lines.append("\(report.target.rawValue): \(report.inputs) inputs from \(report.seedCount) seeds (seed \(report.seed)), "
                + "\(Int(report.inputsPerSecond.rounded())) inputs/s, \(report.violationCount) violations")
            lines.append("  outcomes: " + outcomes.joined(separator: ", "))
            let threshold = Int(FuzzTargetReport.slowMicroseconds / 1000)
            lines.append("  CPU time per input: mean \(Self.fixed(report.meanMicroseconds)) µs, slowest \(Self.fixed(report.slowestMicroseconds)) µs "
                + "(input \(report.slowestIndex): \(report.slowestInput)), \(report.slowInputs) over \(threshold) ms")
            lines.append("  wall time: slowest \(Self.fixed(report.slowestWallMicroseconds)) µs, \(report.slowWallInputs) over \(threshold) ms")
            lines.append("  largest input \(report.largestInputBytes) bytes; peak RSS \(report.peakResidentBytes / 1_048_576) MiB "
                + "(+\(report.peakResidentGrowthBytes / 1024) KiB during the run)")
            for violation in report.violations { lines.append("  VIOLATION \(violation)") }
        }
        return lines.joined(separator: "\n")
    }

    private static func fixed(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return String(rounded)
    }
}
