/// Where the serving layer reads the time: monotonic nanoseconds for timings, deadlines and idle
/// sessions. It is handed in, never read from a global, so a test drives it by hand
/// (`ManualClock`) while `reflexd` reads the machine's (`MonotonicClock`).
package protocol ServingClock {
    /// Nanoseconds since an arbitrary fixed point; never decreases.
    func now() -> UInt64
}

extension ServingClock {
    /// The time between two readings, in microseconds (the unit of timings and deadlines).
    package func microseconds(from start: UInt64, to end: UInt64) -> Double { Double(end &- start) / 1e3 }
}
