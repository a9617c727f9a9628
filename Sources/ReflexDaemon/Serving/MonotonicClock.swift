import Dispatch

/// Monotonic time in nanoseconds: the daemon's only clock (timings, deadlines, idle sessions).
enum MonotonicClock {
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    static func microseconds(from start: UInt64, to end: UInt64) -> Double { Double(end &- start) / 1e3 }
}
