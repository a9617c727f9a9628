/// An error reply: why a request was not served, with whatever identified the request.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: WireErrorCode
    /// One sentence for a human; clients should switch on `code`, not on this.
    public var message: String
    /// The robot id when the header was parsed far enough to know a valid one, else nil.
    public var robot: String?
    /// The seq when the header was parsed far enough to know a valid one, else nil.
    public var seq: UInt64?

    public init(_ code: WireErrorCode, _ message: String, robot: String? = nil, seq: UInt64? = nil) {
        self.code = code
        self.message = message
        self.robot = robot
        self.seq = seq
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
