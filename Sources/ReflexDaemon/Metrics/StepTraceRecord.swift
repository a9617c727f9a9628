import Foundation
import ReflexWire

/// One served step as the trace keeps it; made on the serving thread, turned into a JSON line
/// on the trace writer's thread.
struct StepTraceRecord: Sendable {
    /// Wall-clock time of the reply, seconds since 1970.
    var time: Double
    var robot: String
    var seq: UInt64?
    var exit: Int
    var reason: ExitReason
    var probe: Bool
    /// The distance each exit up to `exit` saw (action consistency with the exit before).
    var distances: [Float]
    /// Thresholds in force for this step, per loaded exit (-inf: never stops there; +inf: the last).
    var thresholds: [Double]
    /// Compute spent, GFLOPs, and as a fraction of the full-depth cost.
    var gflops: Double
    var fraction: Double
    /// The average target and the realised window mean, fractions of the full-depth cost.
    var targetFraction: Double
    var realisedFraction: Double?
    /// The deadline this step had, milliseconds (nil = none), and whether the reply missed it.
    var deadlineMs: Double?
    var missed: Bool
    /// Microseconds: receipt to start, the engine, receipt to reply.
    var queueUs: Double
    var inferUs: Double
    var totalUs: Double

    /// The JSON line (with its newline). Non-finite thresholds are written as null.
    func jsonLine() -> String {
        func num(_ x: Double) -> String { x.isFinite ? String(x) : "null" }
        func opt(_ x: Double?) -> String { x.map(num) ?? "null" }
        let d = distances.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",")
        let t = thresholds.map(num).joined(separator: ",")
        var s = #"{"t":\#(time),"robot":"\#(robot)","seq":\#(seq.map(String.init) ?? "null"),"#
        s += #""exit":\#(exit),"reason":"\#(reason.rawValue)","probe":\#(probe),"distances":[\#(d)],"thresholds":[\#(t)],"#
        s += #""gflops":\#(num(gflops)),"fraction":\#(num(fraction)),"target_fraction":\#(num(targetFraction)),"#
        s += #""realised_fraction":\#(opt(realisedFraction)),"deadline_ms":\#(opt(deadlineMs)),"missed":\#(missed),"#
        s += #""queue_us":\#(Int(queueUs)),"infer_us":\#(Int(inferUs)),"total_us":\#(Int(totalUs))}"# + "\n"
        return s
    }
}
