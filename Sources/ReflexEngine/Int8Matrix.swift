/// A weight matrix `[rows = in, cols = out]` stored as int8 with one float32 scale per output
/// column: the weight is `values[i·cols + j] · scales[j]`. 64-byte aligned, owned, read-only after load.
public final class Int8Matrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    /// int8 `[rows, cols]`, row-major.
    public let values: UnsafeMutablePointer<Int8>
    /// float32 `[cols]`.
    public let scales: Tensor

    /// Zero values; `scales` float32 `[cols]`.
    public init(rows: Int, cols: Int, scales: Tensor) {
        precondition(scales.count == cols, "one scale per column")
        self.rows = rows; self.cols = cols; self.scales = scales
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(rows * cols, 1), alignment: 64)
        values = raw.bindMemory(to: Int8.self, capacity: max(rows * cols, 1))
        values.initialize(repeating: 0, count: max(rows * cols, 1))
    }

    deinit { values.deallocate() }

    /// Bytes held in memory: one per weight, four per scale.
    public var byteCount: Int { rows * cols + scales.byteCount }
}
