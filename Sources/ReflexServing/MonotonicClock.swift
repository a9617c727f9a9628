import Dispatch

/// The machine's monotonic clock: the one `reflexd` serves by.
package struct MonotonicClock: ServingClock, Sendable {
    package init() {}

    package func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}
