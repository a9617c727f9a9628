import Dispatch

/// Monotonic time in nanoseconds: the daemon's only clock (timings, deadlines, idle sessions).
package enum MonotonicClock {
    package static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    package static func microseconds(from start: UInt64, to end: UInt64) -> Double { Double(end &- start) / 1e3 }
}
