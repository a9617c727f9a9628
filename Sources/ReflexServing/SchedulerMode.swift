/// How exit thresholds are chosen (`scheduler.mode`).
public enum SchedulerMode: String, Sendable, Equatable, CaseIterable {
    /// Thresholds adapt to the observations the robot really sends (the default).
    case online
    /// Thresholds solved once from the bundle's calibration data, then left alone.
    case fixed
}
