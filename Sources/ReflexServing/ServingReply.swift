import ReflexWire

/// A reply for the policy socket: the routing envelope the request came with (identities and
/// the delimiter, as bytes), the encoded header, and the action frame when there is one.
package struct ServingReply: Equatable {
    package let envelope: [[UInt8]]
    package let header: [UInt8]
    package let action: [UInt8]?
    /// Why the request was refused, when the reply is an error (for metrics and the log).
    package let refusal: WireError?

    package init(envelope: [[UInt8]], header: [UInt8], action: [UInt8]? = nil, refusal: WireError? = nil) {
        self.envelope = envelope
        self.header = header
        self.action = action
        self.refusal = refusal
    }
}
