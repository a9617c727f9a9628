/// The `type` of a request header.
public enum WireRequestType: String, Sendable, Equatable, CaseIterable {
    /// An observation to act on.
    case step
    /// Clear the robot's recurrent state.
    case reset
    /// Is the daemon there, and which model does it serve?
    case ping
}
