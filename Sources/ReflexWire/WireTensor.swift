/// One validated input tensor of a request: what it is, and the frame holding its bytes.
public struct WireTensor: Sendable {
    /// Equal to the model's expected input of the same name.
    public let spec: TensorSpec
    /// Exactly `spec.byteCount` bytes, little-endian, C order; for float32, all finite.
    public let frame: any WireFrame

    public init(spec: TensorSpec, frame: any WireFrame) {
        self.spec = spec
        self.frame = frame
    }
}
