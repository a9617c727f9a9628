import ReflexWire
import ZeroMQ

/// A decoded step request waiting for the engine. Its frames are the ones libzmq received:
/// the tensor bytes are read in place when the step runs.
struct PendingStep {
    let envelope: [ZMQMessage]
    let request: WireRequest
    let receipt: UInt64
    var robot: String { request.header.robot ?? "" }
}

extension ZMQMessage: WireFrame {}
