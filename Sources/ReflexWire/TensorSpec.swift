/// A tensor's name, element type and shape: what the model expects for an input, and what a
/// request's `tensors` list declares for each frame.
public struct TensorSpec: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var dtype: TensorDType
    public var shape: [Int]

    public init(name: String, dtype: TensorDType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements, or nil when a dimension is negative or the product overflows `Int`.
    public var elementCount: Int? {
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            product = next
        }
        return product
    }

    /// Bytes the tensor occupies, or nil when that does not fit `Int`.
    public var byteCount: Int? {
        guard let elements = elementCount else { return nil }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        return overflow ? nil : bytes
    }

    /// `image uint8[128, 128, 3]`, the form used in error messages.
    public var description: String {
        "\(name) \(dtype.rawValue)[\(shape.map(String.init).joined(separator: ", "))]"
    }
}
