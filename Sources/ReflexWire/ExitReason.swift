/// Why a step stopped at the exit it did (the `reason` of an action reply).
public enum ExitReason: String, Sendable, Equatable, CaseIterable {
    /// The exit criterion was met: the action agreed with the previous exit's.
    case threshold
    /// The last exit the model has (or the step was a full-depth probe).
    case last
    /// The deadline guard stopped it: the next segment would not have finished in time.
    case deadline
    /// The memory cap: deeper exits are not resident.
    case memory
}
