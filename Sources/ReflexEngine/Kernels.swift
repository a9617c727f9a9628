import COpenBLAS

/// The small kernels of the network. GEMMs go to BLAS; the elementwise work is written here
/// with SIMD so that it costs little next to the GEMMs (libm's tanh/exp per element would not).
enum Kernels {
    typealias V = SIMD8<Float>

    /// y[rows, out] = x[rows, in] @ w[in, out] + b (bias pre-filled, then one sgemm with beta = 1).
    @inline(__always)
    static func linear(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, ldx: Int? = nil,
                       _ w: Tensor, _ b: Tensor, into y: UnsafeMutablePointer<Float>, ldy: Int? = nil) {
        let out = w.shape[1]
        let ldy = ldy ?? out
        for r in 0..<rows { (y + r * ldy).update(from: b.data, count: out) }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(out), Int32(inDim),
                    1, x, Int32(ldx ?? inDim), w.data, Int32(out), 1, y, Int32(ldy))
    }

    /// Layer norm over each row of `d` values (biased variance), written to `y` (may alias `x`).
    static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, d: Int, gamma: Tensor, beta: Tensor, eps: Float,
                          into y: UnsafeMutablePointer<Float>) {
        let g = gamma.data, bt = beta.data
        for r in 0..<rows {
            let xr = x + r * d, yr = y + r * d
            var sum: Float = 0
            for i in 0..<d { sum += xr[i] }
            let mean = sum / Float(d)
            var sq: Float = 0
            for i in 0..<d { let c = xr[i] - mean; sq += c * c }
            let inv = 1 / (sq / Float(d) + eps).squareRoot()
            for i in 0..<d { yr[i] = (xr[i] - mean) * inv * g[i] + bt[i] }
        }
    }

    /// GELU, tanh approximation, in place.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let c0 = V(repeating: 0.7978845608028654), c1 = V(repeating: 0.044715), half = V(repeating: 0.5), one = V(repeating: 1)
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            let t = tanh(c0 * (v + c1 * v * v * v))
            UnsafeMutableRawPointer(x + i).storeBytes(of: half * v * (one + t), as: V.self)
            i += 8
        }
        while i < count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + tanh(V(repeating: 0.7978845608028654 * (v + 0.044715 * v * v * v)))[0])
            i += 1
        }
    }

    /// Softmax of each row of `cols` values (row stride `ld`), in place.
    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int) {
        for r in 0..<rows {
            let row = x + r * ld
            var m = -Float.infinity
            for j in 0..<cols { m = max(m, row[j]) }
            var sum: Float = 0
            var j = 0
            let mv = V(repeating: m)
            var acc = V(repeating: 0)
            while j + 8 <= cols {
                let e = exp(UnsafeRawPointer(row + j).loadUnaligned(as: V.self) - mv)
                UnsafeMutableRawPointer(row + j).storeBytes(of: e, as: V.self)
                acc += e
                j += 8
            }
            sum = acc.sum()
            while j < cols { let e = exp(V(repeating: row[j] - m))[0]; row[j] = e; sum += e; j += 1 }
            let inv = 1 / sum
            for j in 0..<cols { row[j] *= inv }
        }
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 0.5 * tanh(V(repeating: 0.5 * x))[0] + 0.5 }
    @inline(__always) static func tanh1(_ x: Float) -> Float { tanh(V(repeating: x))[0] }

    /// tanh by a 13/6 rational approximation (the one Eigen uses); max error ~1 ulp-scale in float.
    @inline(__always)
    static func tanh(_ x: V) -> V {
        let bound = V(repeating: 7.90531110763549805)
        let v = x.clamped(lowerBound: -bound, upperBound: bound)
        let x2 = v * v
        var p = V(repeating: -2.76076847742355e-16)
        p = p * x2 + V(repeating: 2.00018790482477e-13)
        p = p * x2 + V(repeating: -8.60467152213735e-11)
        p = p * x2 + V(repeating: 5.12229709037114e-08)
        p = p * x2 + V(repeating: 1.48572235717979e-05)
        p = p * x2 + V(repeating: 6.37261928875436e-04)
        p = p * x2 + V(repeating: 4.89352455891786e-03)
        p = p * v
        var q = V(repeating: 1.19825839466702e-06)
        q = q * x2 + V(repeating: 1.18534705686654e-04)
        q = q * x2 + V(repeating: 2.26843463243900e-03)
        q = q * x2 + V(repeating: 4.89352518554385e-03)
        return p / q
    }

    /// exp by range reduction to [-ln2/2, ln2/2] and a degree-6 polynomial (Cephes' expf).
    @inline(__always)
    static func exp(_ x: V) -> V {
        let v = x.clamped(lowerBound: V(repeating: -87.3), upperBound: V(repeating: 88.3))
        let n = (v * V(repeating: 1.44269504088896341)).rounded(.toNearestOrEven)
        var r = v - n * V(repeating: 0.693359375)
        r = r - n * V(repeating: -2.12194440e-4)
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + V(repeating: 1.3981999507e-3)
        p = p * r + V(repeating: 8.3334519073e-3)
        p = p * r + V(repeating: 4.1665795894e-2)
        p = p * r + V(repeating: 1.6666665459e-1)
        p = p * r + V(repeating: 5.0000001201e-1)
        p = p * r * r + r + V(repeating: 1)
        let bits = (SIMD8<Int32>(n) &+ 127) &<< 23
        return p * unsafeBitCast(bits, to: V.self)
    }
}
