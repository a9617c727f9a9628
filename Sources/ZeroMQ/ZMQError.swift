import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed libzmq call: the errno it left and libzmq's message for it.
public struct ZMQError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The errno value (libzmq's own codes such as `ETERM` included).
    public let code: Int32
    /// `zmq_strerror(code)`, or a more precise message for checks done in Swift.
    public let message: String
    /// What was being done, e.g. `zmq_bind(tcp://127.0.0.1:5555)`.
    public let operation: String

    public init(code: Int32, message: String? = nil, operation: String = "") {
        self.code = code
        self.message = message ?? String(cString: zmq_strerror(code))
        self.operation = operation
    }

    /// The error libzmq left for the calling thread.
    static func last(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    static func invalidArgument(_ message: String, operation: String) -> ZMQError {
        ZMQError(code: EINVAL, message: message, operation: operation)
    }

    /// EAGAIN: nothing to receive / no room to send now, or a RCVTIMEO/SNDTIMEO ran out.
    public var isWouldBlock: Bool { code == EAGAIN }
    /// ETERM: the context is being shut down or terminated.
    public var isContextTerminated: Bool { code == ETERM }
    /// EHOSTUNREACH: a ROUTER with ROUTER_MANDATORY was asked to send to an unknown peer.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }

    public var description: String {
        operation.isEmpty ? "\(message) (errno \(code))" : "\(operation): \(message) (errno \(code))"
    }
}
