import ReflexWire

/// A decoded step request waiting for the engine. Its tensor frames are the ones the socket
/// layer received (read in place when the step runs); the routing envelope is kept as bytes,
/// to be sent back in front of the reply.
package struct PendingStep {
    package let envelope: [[UInt8]]
    package let request: WireRequest
    package let receipt: UInt64
    package var robot: String { request.header.robot ?? "" }
}
