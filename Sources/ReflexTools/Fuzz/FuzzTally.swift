import ReflexServing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Accumulates a target's report as its inputs are run.
struct FuzzTally {
    private(set) var report: FuzzTargetReport
    private var totalNanoseconds: UInt64 = 0
    private let startNanoseconds: UInt64
    private let startResident: Int

    init(target: FuzzTarget, seed: UInt64, seedCount: Int) {
        report = FuzzTargetReport(target: target, seed: seed)
        report.seedCount = seedCount
        startResident = Self.peakResidentBytes()
        startNanoseconds = MonotonicClock().now()
    }

    /// Records one input. `describe` is only called when the input is kept (a violation or the
    /// slowest so far), so the common case builds no strings.
    mutating func record(
        index: Int, outcome: String, time: FuzzTime, bytes: Int, violations: [String], describe: () -> String
    ) {
        report.inputs += 1
        report.outcomes[outcome, default: 0] += 1
        totalNanoseconds &+= time.cpuNanoseconds
        report.largestInputBytes = max(report.largestInputBytes, bytes)
        let wallMicroseconds = Double(time.wallNanoseconds) / 1e3
        report.slowestWallMicroseconds = max(report.slowestWallMicroseconds, wallMicroseconds)
        if wallMicroseconds > FuzzTargetReport.slowMicroseconds { report.slowWallInputs += 1 }
        let microseconds = Double(time.cpuNanoseconds) / 1e3
        if microseconds > FuzzTargetReport.slowMicroseconds { report.slowInputs += 1 }
        if microseconds > report.slowestMicroseconds {
            report.slowestMicroseconds = microseconds
            report.slowestIndex = index
            report.slowestInput = describe()
        }
        guard !violations.isEmpty else { return }
        report.violationCount += violations.count
        let description = describe()
        for message in violations where report.violations.count < FuzzTargetReport.keptViolations {
            report.violations.append(FuzzViolation(index: index, message: message, input: description))
        }
    }

    mutating func finish() -> FuzzTargetReport {
        report.elapsedSeconds = Double(MonotonicClock().now() &- startNanoseconds) / 1e9
        report.meanMicroseconds = report.inputs > 0 ? Double(totalNanoseconds) / 1e3 / Double(report.inputs) : 0
        report.peakResidentBytes = Self.peakResidentBytes()
        report.peakResidentGrowthBytes = max(0, report.peakResidentBytes - startResident)
        return report
    }

    /// The calling thread's CPU time, in nanoseconds.
    static func threadCPUNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    /// The process's peak resident set so far (`getrusage`; Linux counts KiB, macOS bytes).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024
        #else
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss)
        #endif
    }
}

/// How long one input took: wall-clock and the running thread's CPU time.
struct FuzzTime {
    var wallNanoseconds: UInt64
    var cpuNanoseconds: UInt64

    /// Times `body`.
    static func measure<Result>(_ body: () -> Result) -> (Result, FuzzTime) {
        let wall = MonotonicClock().now()
        let cpu = FuzzTally.threadCPUNanoseconds()
        let result = body()
        let cpuEnd = FuzzTally.threadCPUNanoseconds()
        let wallEnd = MonotonicClock().now()
        return (result, FuzzTime(wallNanoseconds: wallEnd &- wall, cpuNanoseconds: cpuEnd &- cpu))
    }
}
