import ReflexDaemon
/// What a fuzz run feeds: request messages to the wire decoder, or YAML texts to the config loader.
public enum FuzzTarget: String, Sendable, CaseIterable {
    case wire
    case config
}
