import COpenBLAS
import ReflexKernelsAVX512

/// The small kernels of the network, and the linear layers split across threads. The matrix
/// products themselves are in MatrixProducts.swift; the elementwise work is written here with
/// SIMD so that it costs little next to the GEMMs (libm's tanh/exp per element would not).
package enum Kernels {
    /// y[rows, out] = x[rows, in] @ w[in, out] + b (bias pre-filled, then the product accumulated),
    /// the output columns split across the pool's threads. `scratch`: one per thread, at least
    /// 4 × out floats when `w` is int8.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ w: WeightMatrix, _ b: Tensor,
                       into y: UnsafeMutablePointer<Float>, pool: ComputePool, scratch: [Tensor]) {
        pool.run(LinearJob(x: x, rows: rows, inDim: inDim, w: w, b: b, y: y, pool: pool, scratch: scratch, residual: false))
    }

    /// y[rows, out] += x[rows, in] @ w[in, out] + b: a residual connection, columns split across threads.
    static func accumulate(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ w: WeightMatrix, _ b: Tensor,
                           into y: UnsafeMutablePointer<Float>, pool: ComputePool, scratch: [Tensor]) {
        pool.run(LinearJob(x: x, rows: rows, inDim: inDim, w: w, b: b, y: y, pool: pool, scratch: scratch, residual: true))
    }

    /// One thread's columns of `linear` (residual false: y = …) or `accumulate` (residual true: y += …).
    struct LinearJob: ParallelJob {
        let x: UnsafePointer<Float>, rows: Int, inDim: Int, w: WeightMatrix, b: Tensor
        let y: UnsafeMutablePointer<Float>, pool: ComputePool, scratch: [Tensor], residual: Bool
        func run(part: Int) {
            let out = w.cols
            let cols = pool.slice(out, part: part)
            guard !cols.isEmpty else { return }
            for r in 0..<rows {
                let row = y + r * out
                if residual { for j in cols { row[j] += b.data[j] } } else {
                    (row + cols.lowerBound).update(from: b.data + cols.lowerBound, count: cols.count)
                }
            }
            product(x, rows: rows, inDim: inDim, w, cols: cols, into: y, scratch: scratch[part])
        }
    }

    /// Layer norm over each row of `d` values (biased variance), written to `y` (may alias `x`);
    /// rows split across the pool's threads when one is given.
    static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, d: Int, gamma: Tensor, beta: Tensor, eps: Float,
                          into y: UnsafeMutablePointer<Float>, pool: ComputePool?) {
        guard let pool, pool.threads > 1 else { layerNormRows(x, 0..<rows, d: d, gamma: gamma, beta: beta, eps: eps, into: y); return }
        pool.run(LayerNormJob(x: x, rows: rows, d: d, gamma: gamma, beta: beta, eps: eps, y: y, pool: pool))
    }

    private struct LayerNormJob: ParallelJob {
        let x: UnsafePointer<Float>, rows: Int, d: Int, gamma: Tensor, beta: Tensor, eps: Float
        let y: UnsafeMutablePointer<Float>, pool: ComputePool
        func run(part: Int) {
            layerNormRows(x, pool.slice(rows, part: part, align: 1), d: d, gamma: gamma, beta: beta, eps: eps, into: y)
        }
    }

    private static func layerNormRows(_ x: UnsafePointer<Float>, _ range: Range<Int>, d: Int, gamma: Tensor, beta: Tensor,
                                      eps: Float, into y: UnsafeMutablePointer<Float>) {
        let g = gamma.data, bt = beta.data
        for r in range {
            let xr = x + r * d, yr = y + r * d
            let mean = sum(xr, d) { $0 } / Float(d)
            let sq = sum(xr, d) { ($0 - mean) * ($0 - mean) }
            let inv = 1 / (sq / Float(d) + eps).squareRoot()
            for i in 0..<d { yr[i] = (xr[i] - mean) * inv * g[i] + bt[i] }
        }
    }

    /// Σ f(x[i]) with four independent accumulators (a plain float sum would not vectorise).
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int, _ f: (Float) -> Float) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n { s0 += f(x[i]); s1 += f(x[i + 1]); s2 += f(x[i + 2]); s3 += f(x[i + 3]); i += 4 }
        while i < n { s0 += f(x[i]); i += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// GELU, tanh approximation, in place: 16 lanes (`WideKernels.gelu`) where the CPU has
    /// AVX-512, else `geluScalar`, a plain scalar loop of selects and arithmetic that LLVM
    /// vectorises (generic SIMD conversions would not be).
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        if wide { WideKernels.gelu(x, count: count) } else { geluScalar(x, count: count) }
    }

    /// `gelu` as the plain loop (what runs without AVX-512; the wide kernel gives the same bits).
    static func geluScalar(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))
        }
    }

    /// Softmax of each row of `cols` values (row stride `ld`), in place.
    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int) {
        for r in 0..<rows {
            let row = x + r * ld
            var m = row[0]
            for j in 1..<cols { m = row[j] > m ? row[j] : m }
            for j in 0..<cols { row[j] = exp(row[j] - m) }
            let inv = 1 / sum(row, cols) { $0 }
            for j in 0..<cols { row[j] *= inv }
        }
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 0.5 * tanh(0.5 * x) + 0.5 }

    /// tanh by a 13/6 rational approximation (the one Eigen uses): error below 1e-6.
    @inline(__always)
    static func tanh(_ x: Float) -> Float {
        let bound: Float = 7.90531110763549805
        let v = x > bound ? bound : (x < -bound ? -bound : x)
        let x2 = v * v
        var p: Float = -2.76076847742355e-16
        p = p * x2 + 2.00018790482477e-13
        p = p * x2 + -8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        p = p * v
        var q: Float = 1.19825839466702e-06
        q = q * x2 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        return p / q
    }

    /// exp by range reduction to [-ln2/2, ln2/2] and Cephes' degree-6 polynomial. Rounding to
    /// the nearest integer uses the 1.5·2²³ trick, whose bits then give 2ⁿ without a conversion.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let v = x > 88.3 ? 88.3 : (x < -87.3 ? -87.3 : x)
        let t = v * 1.44269504088896341 + 12582912.0
        let n = t - 12582912.0
        var r = v - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * r * r + r + 1
        let bits = (t.bitPattern &- 0x4B40_0000 &+ 127) &<< 23
        return p * Float(bitPattern: bits)
    }
}
