import ReflexWire
import ZeroMQ

/// A received message is a frame the codec and the engine read in place: image bytes are
/// never copied between the socket and the engine.
extension ZMQMessage: WireFrame {}
