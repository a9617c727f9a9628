/// A clock that moves only when told to: tests of the serving core and of the layers above it
/// decide exactly when a deadline passes or a session goes idle (as swift-nio's
/// `EmbeddedEventLoop` lets a test advance time).
package final class ManualClock: ServingClock {
    private var nanoseconds: UInt64

    package init(nanoseconds: UInt64 = 0) {
        self.nanoseconds = nanoseconds
    }

    package func now() -> UInt64 { nanoseconds }

    package func advance(by nanoseconds: UInt64) { self.nanoseconds += nanoseconds }

    package func advance(seconds: Double) { advance(by: UInt64(seconds * 1e9)) }
}
