/// The `code` of an error reply (CONTRACT section 5). Clients switch on these strings.
public enum WireErrorCode: String, Sendable, Equatable, CaseIterable {
    /// Not JSON, wrong `v`, bad robot id or seq, a field of the wrong type, missing instruction.
    case badHeader = "bad_header"
    /// `type` is a string but not one this server knows.
    case unknownType = "unknown_type"
    /// Tensor count, name, dtype, shape or byte length does not match; NaN/Inf in an input.
    case badTensor = "bad_tensor"
    /// The request (or its header) is larger than the configured limit.
    case tooLarge = "too_large"
    /// The queue or the session table is full.
    case overloaded
    /// Superseded by a newer request of the same robot (latest wins).
    case stale
    /// The operator paused stepping.
    case paused
    /// The server failed (e.g. the model produced NaN); never sent as an action.
    case internalError = "internal"
}
