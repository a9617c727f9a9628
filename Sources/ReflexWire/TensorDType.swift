/// The element types the protocol carries (little-endian, C order).
public enum TensorDType: String, Sendable, Equatable, CaseIterable {
    case uint8
    case float32

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .uint8: return 1
        case .float32: return 4
        }
    }
}
