/// What stops the daemon besides a bad config file (`ConfigError`): key files, CURVE
/// authentication, the metrics listener. The description says what and where, for the log and
/// for `reflexctl keygen`'s stderr.
public struct DaemonError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A CURVE key file or key folder is missing, unsafe or malformed (OpenSSH StrictModes).
        case keyFile
        /// The ZAP handler stopped answering: the daemon exits rather than admit every key.
        case authentication
        /// The metrics endpoint could not listen.
        case metrics
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
