/// The engine's one tensor type: a float32 buffer with a shape, 64-byte aligned, owned.
/// Weights are written once at load and only read afterwards; workspaces are owned by one
/// thread at a time — hence `@unchecked Sendable`.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>

    public init(shape: [Int]) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        data = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        data.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "values do not fill the shape")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { data.deallocate() }

    /// Bytes this tensor holds in memory.
    public var byteCount: Int { count * 4 }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: data, count: count) }

    public func toArray() -> [Float] { Array(buffer) }
}
