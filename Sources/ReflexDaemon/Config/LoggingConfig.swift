import Logging

/// The `logging` section.
public struct LoggingConfig: Sendable, Equatable {
    /// trace | debug | info | notice | warning | error | critical. Default info.
    public var level: Logger.Level

    public init(level: Logger.Level = .info) {
        self.level = level
    }
}
