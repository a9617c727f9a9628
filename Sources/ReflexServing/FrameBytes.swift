import ReflexWire

/// Several frames' bytes at once, for an observation with several cameras.
package enum FrameBytes {
    /// Calls `body` with the bytes of every frame, in order; the pointers are valid only during the call.
    package static func withUnsafeBytes<Result>(of frames: [any WireFrame], _ body: ([UnsafeRawBufferPointer]) throws -> Result) throws -> Result {
        try nest(frames[...], [], body)
    }

    private static func nest<Result>(_ rest: ArraySlice<any WireFrame>, _ done: [UnsafeRawBufferPointer],
                                     _ body: ([UnsafeRawBufferPointer]) throws -> Result) throws -> Result {
        guard let first = rest.first else { return try body(done) }
        return try first.withUnsafeBytes { try nest(rest.dropFirst(), done + [$0], body) }
    }
}
