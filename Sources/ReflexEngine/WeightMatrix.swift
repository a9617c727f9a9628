/// A linear layer's weight `[in, out]` as held in memory (`y = x @ W + b`): float32 (whatever the
/// float storage dtype was), or int8 with per-output-column scales, used as stored.
public enum WeightMatrix: @unchecked Sendable {
    /// float32 `[in, out]`, row-major.
    case float32(Tensor)
    /// float32 `[out / 16, in, 16]`: 16-column panels, each contiguous over `in` (packed at load
    /// when `out` is a multiple of 16; the blocked kernels stream them without a row stride).
    case float32Panels(Tensor)
    case int8(Int8Matrix)

    /// in.
    public var rows: Int {
        switch self { case .float32(let t): t.shape[0]; case .float32Panels(let t): t.shape[1]; case .int8(let q): q.rows }
    }
    /// out.
    public var cols: Int {
        switch self { case .float32(let t): t.shape[1]; case .float32Panels(let t): 16 * t.shape[0]; case .int8(let q): q.cols }
    }
    /// Bytes held in memory.
    public var byteCount: Int {
        switch self { case .float32(let t), .float32Panels(let t): t.byteCount; case .int8(let q): q.byteCount }
    }
    public var isInt8: Bool { if case .int8 = self { true } else { false } }
}
