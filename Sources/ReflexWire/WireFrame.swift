import Foundation

/// One frame of a multipart message, readable without copying.
///
/// The serving loop hands in whatever its socket layer received (a zmq message it owns);
/// the codec only needs the length and a temporary view of the bytes. Tensor frames are kept
/// as these frames, so image bytes are never copied between the socket and the engine.
public protocol WireFrame: Sendable {
    /// The frame's length in bytes.
    var count: Int { get }
    /// Calls `body` with the frame's bytes; the pointer is valid only during the call.
    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result
}

extension Array: WireFrame where Element == UInt8 {}

extension ArraySlice: WireFrame where Element == UInt8 {}

extension Data: WireFrame {}
