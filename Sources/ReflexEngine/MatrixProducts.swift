import COpenBLAS
import CReflexCPU
import Foundation
import ReflexKernelsAVX512

/// Matrix products with a layer's weights, float32 or int8 (`WeightMatrix`): what the engine
/// runs (`product`, `gemv`) and the candidates `reflexctl bench gemm` measures beside them.
extension Kernels {
    /// Rows × columns of the largest tile `productInt8Tiles` dequantises at a time: 256 KiB of
    /// float32, which stays in a core's L2 while sgemm streams it.
    package static let tileRows = 256, tileCols = 256

    /// The instruction set the engine's products run with: `avx512` (ReflexKernelsAVX512's
    /// 8 × 16 kernels) where the CPU has it, else `avx2` (the 4 × 16 kernels here; plain SIMD code
    /// off x86-64). Decided once at start; `REFLEX_KERNELS=avx2` in the environment forces the
    /// narrow kernels (to compare, or to rule the wide ones out). Both give the same bits.
    public static let kernelISA: String = {
        let wide = WideKernels.compiled && reflex_cpu_has_avx512() != 0
            && ProcessInfo.processInfo.environment["REFLEX_KERNELS"] != "avx2"
        #if arch(x86_64)
        return wide ? "avx512" : "avx2"
        #else
        return "simd"
        #endif
    }()
    static let wide = kernelISA == "avx512"

    /// K rows of a panel pair the AVX-512 float32 kernel takes per block (`productFloatPanelsKBlocked`):
    /// 256 × 32 floats = 32 KiB stay in a 48 KiB L1 across the row blocks. Chosen by
    /// `reflexctl bench gemm` (docs/PERFORMANCE.md): 64, 128 and 256 all beat the unblocked
    /// kernel by 9–17 % at K = 512–2048; 256 is best at K = 2048, level elsewhere.
    package static let kBlock = 256

    /// Floats of per-thread scratch `product` needs for inputs of up to `rows` rows and matrices
    /// of up to `widestOut` columns: 4 accumulator rows per column for int8 (AVX2 path), and the
    /// K-blocked AVX-512 kernel's accumulators (`WideKernels.accumulatorFloats`).
    package static func productScratch(rows: Int, widestOut: Int, int8: Bool) -> Int {
        max(int8 ? 4 * widestOut : 0, wide ? WideKernels.accumulatorFloats(rows: rows) : 0, 1)
    }

    /// y[:, cols] += x[rows, in] @ w[:, cols] (y's row stride is w.cols). float32 panels:
    /// `productFloatPacked`; float32 row-major (out not a multiple of 16): `productFloatBlocked`;
    /// int8: `productInt8Blocked` (the int8 values converted as they are
    /// used; no float32 copy of the matrix exists). `scratch`: `productScratch` floats (with fewer,
    /// the AVX-512 float32 product runs unblocked over K).
    package static func product(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ w: WeightMatrix, cols: Range<Int>,
                                into y: UnsafeMutablePointer<Float>, scratch: Tensor) {
        switch w {
        case .float32(let t):
            productFloatBlocked(x, rows: rows, inDim: inDim, t, cols: cols, into: y)
        case .float32Panels(let t):
            if wide && scratch.count >= WideKernels.accumulatorFloats(rows: rows) {
                WideKernels.productFloatPanelsKBlocked(x, rows: rows, inDim: inDim, t.data, out: w.cols, cols: cols.lowerBound,
                                                       cols.upperBound, kBlock: kBlock, accumulators: scratch.data, into: y)
            } else if wide {
                WideKernels.productFloatPanels(x, rows: rows, inDim: inDim, t.data, out: w.cols, cols: cols.lowerBound,
                                               cols.upperBound, into: y)
            } else {
                productFloatPacked(x, rows: rows, inDim: inDim, t, outCols: w.cols, cols: cols, into: y)
            }
        case .int8(let q):
            if wide {
                let full = cols.lowerBound + (cols.count / 16) * 16
                WideKernels.productInt8(x, rows: rows, inDim: inDim, q.values, scales: q.scales.data, out: q.cols,
                                        cols: cols.lowerBound, full, into: y)
                if full < cols.upperBound {
                    productInt8(x, rows: rows, inDim: inDim, q, cols: full..<cols.upperBound, into: y, scratch: scratch)
                }
            } else {
                productInt8Blocked(x, rows: rows, inDim: inDim, q, cols: cols, into: y, scratch: scratch)
            }
        }
    }

    /// An int8 candidate the engine does not use (slower here, `reflexctl bench gemm`): tiles of
    /// at most `tileRows` × `tileCols` weights dequantised (q · scale) into `scratch`, each then
    /// multiplied by sgemm. `scratch`: at least `tileRows · tileCols` floats.
    package static func productInt8Tiles(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ q: Int8Matrix, cols: Range<Int>,
                                         into y: UnsafeMutablePointer<Float>, scratch: Tensor) {
        var n0 = cols.lowerBound
        while n0 < cols.upperBound {
            let nb = min(tileCols, cols.upperBound - n0)
            var k0 = 0
            while k0 < inDim {
                let kb = min(tileRows, inDim - k0)
                dequantise(q, rows: k0..<(k0 + kb), cols: n0..<(n0 + nb), into: scratch.data)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(nb), Int32(kb),
                            1, x + k0, Int32(inDim), scratch.data, Int32(nb), 1, y + n0, Int32(q.cols))
                k0 += kb
            }
            n0 += nb
        }
    }

    /// y[:, cols] += (x @ q[:, cols]) · scale[cols], the int8 → float conversion in the inner loop,
    /// four rows of x at a time, accumulating in `scratch` (at least 4 · cols.count floats): a
    /// bench candidate, and the blocked kernel's leftover columns.
    package static func productInt8(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ q: Int8Matrix, cols: Range<Int>,
                                      into y: UnsafeMutablePointer<Float>, scratch: Tensor) {
        let n = cols.count, out = q.cols, s = q.scales.data + cols.lowerBound
        var r0 = 0
        while r0 < rows {
            let rb = min(4, rows - r0)
            let a0 = scratch.data, a1 = a0 + n, a2 = a1 + n, a3 = a2 + n
            for j in 0..<(4 * n) { a0[j] = 0 }
            let x0 = x + r0 * inDim, x1 = x0 + (rb > 1 ? inDim : 0), x2 = x0 + (rb > 2 ? 2 * inDim : 0), x3 = x0 + (rb > 3 ? 3 * inDim : 0)
            for k in 0..<inDim {
                let w = q.values + k * out + cols.lowerBound
                let v0 = x0[k], v1 = x1[k], v2 = x2[k], v3 = x3[k]
                for j in 0..<n {
                    let f = Float(w[j])
                    a0[j] += v0 * f; a1[j] += v1 * f; a2[j] += v2 * f; a3[j] += v3 * f
                }
            }
            for r in 0..<rb {
                let acc = a0 + r * n, yr = y + (r0 + r) * out + cols.lowerBound
                for j in 0..<n { yr[j] += acc[j] * s[j] }
            }
            r0 += 4
        }
    }

    /// The engine's int8 product: y[:, cols] += (x @ q[:, cols]) · scale[cols] with 4 rows × 16
    /// columns of accumulators in SIMD registers over the whole K loop (16 int8 weights converted
    /// per 64 multiply-adds); leftover columns (fewer than 16) go to `productInt8`. Fastest of the
    /// candidates here (`reflexctl bench gemm`, docs/PERFORMANCE.md).
    package static func productInt8Blocked(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ q: Int8Matrix, cols: Range<Int>,
                                           into y: UnsafeMutablePointer<Float>, scratch: Tensor) {
        let out = q.cols
        let full = cols.lowerBound + (cols.count / 16) * 16
        var j0 = cols.lowerBound
        while j0 < full {
            let scale = UnsafeRawPointer(q.scales.data + j0).loadUnaligned(as: SIMD16<Float>.self)
            var r0 = 0
            while r0 < rows {
                let rb = min(4, rows - r0)
                let x0 = x + r0 * inDim, x1 = x0 + (rb > 1 ? inDim : 0), x2 = x0 + (rb > 2 ? 2 * inDim : 0), x3 = x0 + (rb > 3 ? 3 * inDim : 0)
                var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
                var w = q.values + j0
                for k in 0..<inDim {
                    var wf = SIMD16<Float>()
                    for j in 0..<16 { wf[j] = Float(w[j]) }
                    c0.addProduct(SIMD16(repeating: x0[k]), wf); c1.addProduct(SIMD16(repeating: x1[k]), wf)
                    c2.addProduct(SIMD16(repeating: x2[k]), wf); c3.addProduct(SIMD16(repeating: x3[k]), wf)
                    w += out
                }
                @inline(__always) func store(_ c: SIMD16<Float>, _ r: Int) {
                    let yr = UnsafeMutableRawPointer(y + (r0 + r) * out + j0)
                    yr.storeBytes(of: yr.loadUnaligned(as: SIMD16<Float>.self) + c * scale, as: SIMD16<Float>.self)
                }
                store(c0, 0)
                if rb > 1 { store(c1, 1) }
                if rb > 2 { store(c2, 2) }
                if rb > 3 { store(c3, 3) }
                r0 += 4
            }
            j0 += 16
        }
        if full < cols.upperBound { productInt8(x, rows: rows, inDim: inDim, q, cols: full..<cols.upperBound, into: y, scratch: scratch) }
    }

    /// The engine's float32 product, the twin of `productInt8Blocked` (no conversion, no scale):
    /// 4 rows × 16 columns of accumulators in SIMD registers over the whole K loop; leftover
    /// columns (fewer than 16) go to sgemm. Faster than OpenBLAS's sgemm at the shipped model's
    /// shapes (`reflexctl bench gemm`, docs/PERFORMANCE.md).
    package static func productFloatBlocked(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ w: Tensor, cols: Range<Int>,
                                            into y: UnsafeMutablePointer<Float>) {
        let out = w.shape[1]
        let full = cols.lowerBound + (cols.count / 16) * 16
        var j0 = cols.lowerBound
        while j0 < full {
            floatColumnBlock(x, rows: rows, inDim: inDim, UnsafeRawPointer(w.data + j0), kStride: 4 * out, out: out, col: j0, into: y)
            j0 += 16
        }
        if full < cols.upperBound {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(cols.upperBound - full), Int32(inDim),
                        1, x, Int32(inDim), w.data + full, Int32(out), 1, y + full, Int32(out))
        }
    }

    /// `w` [K, N] repacked into 16-column panels, panel p = columns 16p … 16p+15 as [K][16]
    /// contiguous (N must be a multiple of 16): the layout `productFloatPacked` streams.
    package static func packPanels(_ w: Tensor) -> Tensor {
        let k = w.shape[0], n = w.shape[1]
        precondition(n % 16 == 0, "panels need a multiple of 16 columns")
        let packed = Tensor(shape: [n / 16, k, 16])
        for p in 0..<(n / 16) { for i in 0..<k { for j in 0..<16 { packed.data[(p * k + i) * 16 + j] = w.data[i * n + p * 16 + j] } } }
        return packed
    }

    /// The engine's float32 product on panels from `packPanels`: `productFloatBlocked`'s kernel with
    /// each block's weights contiguous instead of a row stride apart (1.8–2.2× faster where that
    /// stride was 2–8 KiB, `reflexctl bench gemm`). `cols`: bounds multiples of 16.
    package static func productFloatPacked(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ panels: Tensor, outCols out: Int,
                                           cols: Range<Int>, into y: UnsafeMutablePointer<Float>) {
        var j0 = cols.lowerBound
        while j0 < cols.upperBound {
            floatColumnBlock(x, rows: rows, inDim: inDim, UnsafeRawPointer(panels.data + (j0 / 16) * inDim * 16), kStride: 64,
                             out: out, col: j0, into: y)
            j0 += 16
        }
    }

    /// y[:, col ..< col + 16] += x @ W[:, col ..< col + 16], 4 rows × 16 columns of accumulators over
    /// the whole K loop; the 16 weights of row k are at `weights + k · kStride` bytes (a row-major
    /// matrix: 4 · out; a panel: 64). The kernel of `productFloatBlocked` and `productFloatPacked`.
    @inline(__always)
    static func floatColumnBlock(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ weights: UnsafeRawPointer, kStride: Int,
                                 out: Int, col j0: Int, into y: UnsafeMutablePointer<Float>) {
        var r0 = 0
        while r0 < rows {
            let rb = min(4, rows - r0)
            let x0 = x + r0 * inDim, x1 = x0 + (rb > 1 ? inDim : 0), x2 = x0 + (rb > 2 ? 2 * inDim : 0), x3 = x0 + (rb > 3 ? 3 * inDim : 0)
            var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
            var p = weights
            for k in 0..<inDim {
                let wf = p.loadUnaligned(as: SIMD16<Float>.self)
                c0.addProduct(SIMD16(repeating: x0[k]), wf); c1.addProduct(SIMD16(repeating: x1[k]), wf)
                c2.addProduct(SIMD16(repeating: x2[k]), wf); c3.addProduct(SIMD16(repeating: x3[k]), wf)
                p += kStride
            }
            @inline(__always) func store(_ c: SIMD16<Float>, _ r: Int) {
                let yr = UnsafeMutableRawPointer(y + (r0 + r) * out + j0)
                yr.storeBytes(of: yr.loadUnaligned(as: SIMD16<Float>.self) + c, as: SIMD16<Float>.self)
            }
            store(c0, 0)
            if rb > 1 { store(c1, 1) }
            if rb > 2 { store(c2, 2) }
            if rb > 3 { store(c3, 3) }
            r0 += 4
        }
    }

    /// dst[rows.count, cols.count] = q[rows, cols] · scale[cols], row-major.
    static func dequantise(_ q: Int8Matrix, rows: Range<Int>, cols: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let nb = cols.count, s = q.scales.data + cols.lowerBound
        for (k, i) in rows.enumerated() {
            let src = q.values + i * q.cols + cols.lowerBound, d = dst + k * nb
            for j in 0..<nb { d[j] = Float(src[j]) * s[j] }
        }
    }

    /// y[0 ..< w.cols] += x[0 ..< w.rows] @ w: one input row (the state token, the recurrent
    /// head). `scratch`: `productScratch` floats (int8 only). With a `pool` of more than one thread,
    /// a float32-panel matrix of at least `parallelGemvWeights` weights is split by columns across
    /// the threads (each streams its own columns: the LSTM's are 4 MB in the large configuration);
    /// smaller ones, and int8, run on the calling thread (waking a worker costs more than they take).
    static func gemv(_ x: UnsafePointer<Float>, _ w: WeightMatrix, into y: UnsafeMutablePointer<Float>, scratch: Tensor,
                     pool: ComputePool? = nil) {
        if let pool, pool.threads > 1, case .float32Panels = w, w.rows * w.cols >= parallelGemvWeights {
            pool.run(GemvJob(x: x, w: w, y: y, pool: pool))
            return
        }
        gemv(x, w, cols: 0..<w.cols, into: y, scratch: scratch)
    }

    /// Weights from which `gemv` splits a float32 matrix across the pool's threads (2^18 = 1 MiB):
    /// the default model's head matrices stay on one thread, the large configuration's LSTM splits.
    static let parallelGemvWeights = 1 << 18

    private struct GemvJob: ParallelJob {
        let x: UnsafePointer<Float>, w: WeightMatrix, y: UnsafeMutablePointer<Float>, pool: ComputePool
        func run(part: Int) {
            let cols = pool.slice(w.cols, part: part)
            if !cols.isEmpty { gemv(x, w, cols: cols, into: y, scratch: nil) }
        }
    }

    /// `gemv` over columns `cols` (float32 panels: whole panels, multiples of 16; the other
    /// layouts: all columns). An int8 matrix is multiplied as stored, `y[j] += scale[j] ·
    /// Σ_i x[i]·q[i, j]`, summing into `scratch` (at least `out` floats; nil only for float32).
    private static func gemv(_ x: UnsafePointer<Float>, _ w: WeightMatrix, cols: Range<Int>, into y: UnsafeMutablePointer<Float>,
                             scratch: Tensor?) {
        switch w {
        case .float32(let t):
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(t.shape[0]), Int32(t.shape[1]), 1, t.data, Int32(t.shape[1]), x, 1, 1, y, 1)
        case .float32Panels(let t) where wide:
            WideKernels.gemvPanels(x, inDim: t.shape[1], t.data, cols: cols.lowerBound, cols.upperBound, into: y)
        case .float32Panels(let t):
            let k = t.shape[1]
            for p in (cols.lowerBound / 16)..<(cols.upperBound / 16) {
                var acc = SIMD16<Float>(), w = UnsafeRawPointer(t.data + p * k * 16)
                for i in 0..<k { acc.addProduct(SIMD16(repeating: x[i]), w.loadUnaligned(as: SIMD16<Float>.self)); w += 64 }
                let yp = UnsafeMutableRawPointer(y + 16 * p)
                yp.storeBytes(of: yp.loadUnaligned(as: SIMD16<Float>.self) + acc, as: SIMD16<Float>.self)
            }
        case .int8(let q):
            let n = q.cols, acc = scratch!.data
            for j in 0..<n { acc[j] = 0 }
            for i in 0..<q.rows {
                let xi = x[i], row = q.values + i * n
                for j in 0..<n { acc[j] += xi * Float(row[j]) }
            }
            let s = q.scales.data
            for j in 0..<n { y[j] += acc[j] * s[j] }
        }
    }
}
