import CReflexCPU

/// The engine's matrix-product kernels compiled for AVX-512 (`-target-cpu skylake-avx512`, this
/// module only), called only where `reflex_cpu_has_avx512()` says the CPU runs them: the engine
/// dispatches at run time, so one binary runs on AVX2-only computers too (as MLAS and oneDNN do).
///
/// With 32 vector registers of 16 floats, 8 rows × 16 columns of accumulators (8 zmm) hide the
/// FMA latency that the AVX2 kernel's 4 × 16 (8 ymm) hides with half the width; each k step
/// loads (or converts) 16 weights once and multiplies them with 8 broadcast inputs. The sums run
/// over k in the same order as the AVX2 kernels, with fused multiply-adds: the results are the
/// same bits. Raw pointers only: this module sits below ReflexEngine.
public enum WideKernels {
#if arch(x86_64)
    public static let compiled = true
#else
    public static let compiled = false
#endif

    /// y[r, j0 ..< j1] += Σ_k x[r, k] · panel(j)[k] for r in 0 ..< rows, on 16-column panels
    /// (`panels`: [out / 16][inDim][16] float32, row stride of y = `out`), K in one pass: the
    /// K-blocked kernel with one block. j0, j1: multiples of 16.
    @inline(never)
    public static func productFloatPanels(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ panels: UnsafePointer<Float>,
                                          out: Int, cols j0: Int, _ j1: Int, into y: UnsafeMutablePointer<Float>) {
        productFloatPanelsKBlocked(x, rows: rows, inDim: inDim, panels, out: out, cols: j0, j1, kBlock: max(inDim, 1),
                                   accumulators: nil, into: y)
    }

    /// Floats `productFloatPanelsKBlocked` keeps between K blocks for `rows` input rows: 8 · ⌈rows / 8⌉ × 32.
    public static func accumulatorFloats(rows: Int) -> Int { (rows + 7) / 8 * 8 * 32 }

    /// `productFloatPanels` with the K loop cut into blocks of `kBlock`, for inputs wider than a
    /// panel pair fits in L1 (32 columns × K floats: 64 KiB at K = 512 against this CPU's 48 KiB):
    /// for each panel pair and each K block, every 8-row block runs, so the pair's `kBlock` rows of
    /// weights are read from L2 once and then served from L1 to all row blocks. The accumulators
    /// wait in `accumulators` (`accumulatorFloats(rows:)`) between K blocks, exact float32 values:
    /// the same fused multiply-adds in the same k order as the unblocked kernel, so the same bits.
    /// A leftover 16-column panel goes to `floatPanel`. `accumulators` may be nil when kBlock ≥ inDim.
    @inline(never)
    public static func productFloatPanelsKBlocked(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ panels: UnsafePointer<Float>,
                                                  out: Int, cols j0: Int, _ j1: Int, kBlock: Int,
                                                  accumulators: UnsafeMutablePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let passes = (rows + 7) / 8
        var j = j0
        while j + 32 <= j1 {
            let panelA = UnsafeRawPointer(panels + (j / 16) * inDim * 16), panelB = panelA + 64 * inDim
            var k0 = 0
            while k0 < inDim {
                let k1 = min(inDim, k0 + kBlock)
                // The next tile (this pair's next K block, else the next pair's first) is fetched
                // into L2 while this one is multiplied: one line of each of its two panels every
                // `stride` k steps of row-block passes 1, 2, … (pass 0 is busy streaming this tile's
                // own weights from memory), so that its first pass finds it in cache. Without it a
                // step of the large configuration, whose weights do not fit in cache, waits on memory
                // in every tile's first pass (docs/PERFORMANCE.md, session 10).
                let next: UnsafeRawPointer? = k1 < inDim ? panelA + 64 * k1 : (j + 64 <= j1 ? panelA + 128 * inDim : nil)
                let nextLines = next == nil ? 0 : min(kBlock, k1 < inDim ? inDim - k1 : inDim)
                let stride = passes > 1 && nextLines > 0 ? max(1, (k1 - k0) * (passes - 1) / nextLines) : 0
                var fetched = 0
                var r0 = 0
                while r0 < rows {
                    let rb = min(8, rows - r0)
                    var countdown = r0 > 0 ? stride : 0      // 0: no fetching in this pass
                    @inline(__always) func fetchNext() {
                        guard countdown > 0 else { return }
                        countdown -= 1
                        if countdown == 0 {
                            countdown = stride
                            if fetched < nextLines {
                                reflex_prefetch_l2(next! + 64 * fetched); reflex_prefetch_l2(next! + 64 * (inDim + fetched))
                                fetched += 1
                            }
                        }
                    }
                    let saved = accumulators.map { UnsafeMutableRawPointer($0 + r0 * 32) }    // nil: one K block
                    @inline(__always) func load(_ i: Int) -> SIMD16<Float> {
                        k0 == 0 ? SIMD16<Float>() : saved!.load(fromByteOffset: 64 * i, as: SIMD16<Float>.self)
                    }
                    if rb <= 4 {
                        // a last block of 1-4 rows: 4 rows of accumulators, not 8 (at 74 tokens the
                        // 8-row kernel computed 80 rows: 8 % of the product thrown away)
                        let x0 = x + r0 * inDim, x1 = x0 + (rb > 1 ? inDim : 0)
                        let x2 = x0 + (rb > 2 ? 2 * inDim : 0), x3 = x0 + (rb > 3 ? 3 * inDim : 0)
                        var c0 = load(0), c1 = load(1), c2 = load(2), c3 = load(3)
                        var d0 = load(8), d1 = load(9), d2 = load(10), d3 = load(11)
                        var pa = panelA + 64 * k0, pb = panelB + 64 * k0
                        for k in k0..<k1 {
                            let wa = pa.loadUnaligned(as: SIMD16<Float>.self), wb = pb.loadUnaligned(as: SIMD16<Float>.self)
                            var v = SIMD16<Float>(repeating: x0[k]); c0.addProduct(v, wa); d0.addProduct(v, wb)
                            v = SIMD16(repeating: x1[k]); c1.addProduct(v, wa); d1.addProduct(v, wb)
                            v = SIMD16(repeating: x2[k]); c2.addProduct(v, wa); d2.addProduct(v, wb)
                            v = SIMD16(repeating: x3[k]); c3.addProduct(v, wa); d3.addProduct(v, wb)
                            pa += 64
                            pb += 64
                            fetchNext()
                        }
                        if k1 == inDim {
                            store(c0, y, r0, 0, rb, out, j, nil); store(c1, y, r0, 1, rb, out, j, nil)
                            store(c2, y, r0, 2, rb, out, j, nil); store(c3, y, r0, 3, rb, out, j, nil)
                            store(d0, y, r0, 0, rb, out, j + 16, nil); store(d1, y, r0, 1, rb, out, j + 16, nil)
                            store(d2, y, r0, 2, rb, out, j + 16, nil); store(d3, y, r0, 3, rb, out, j + 16, nil)
                        } else {
                            @inline(__always) func save(_ c: SIMD16<Float>, _ i: Int) { saved!.storeBytes(of: c, toByteOffset: 64 * i, as: SIMD16<Float>.self) }
                            save(c0, 0); save(c1, 1); save(c2, 2); save(c3, 3); save(d0, 8); save(d1, 9); save(d2, 10); save(d3, 11)
                        }
                        r0 += 8
                        continue
                    }
                    let (x0, x1, x2, x3, x4, x5, x6, x7) = inputRows(x, r0, rb, inDim)
                    var c0 = load(0), c1 = load(1), c2 = load(2), c3 = load(3), c4 = load(4), c5 = load(5), c6 = load(6), c7 = load(7)
                    var d0 = load(8), d1 = load(9), d2 = load(10), d3 = load(11), d4 = load(12), d5 = load(13), d6 = load(14), d7 = load(15)
                    var pa = panelA + 64 * k0, pb = panelB + 64 * k0
                    for k in k0..<k1 {
                        let wa = pa.loadUnaligned(as: SIMD16<Float>.self), wb = pb.loadUnaligned(as: SIMD16<Float>.self)
                        var v = SIMD16<Float>(repeating: x0[k]); c0.addProduct(v, wa); d0.addProduct(v, wb)
                        v = SIMD16(repeating: x1[k]); c1.addProduct(v, wa); d1.addProduct(v, wb)
                        v = SIMD16(repeating: x2[k]); c2.addProduct(v, wa); d2.addProduct(v, wb)
                        v = SIMD16(repeating: x3[k]); c3.addProduct(v, wa); d3.addProduct(v, wb)
                        v = SIMD16(repeating: x4[k]); c4.addProduct(v, wa); d4.addProduct(v, wb)
                        v = SIMD16(repeating: x5[k]); c5.addProduct(v, wa); d5.addProduct(v, wb)
                        v = SIMD16(repeating: x6[k]); c6.addProduct(v, wa); d6.addProduct(v, wb)
                        v = SIMD16(repeating: x7[k]); c7.addProduct(v, wa); d7.addProduct(v, wb)
                        pa += 64
                        pb += 64
                        fetchNext()
                    }
                    if k1 == inDim {
                        storeBlock((c0, c1, c2, c3, c4, c5, c6, c7), y, r0, rb, out, j, nil)
                        storeBlock((d0, d1, d2, d3, d4, d5, d6, d7), y, r0, rb, out, j + 16, nil)
                    } else {
                        @inline(__always) func save(_ c: SIMD16<Float>, _ i: Int) { saved!.storeBytes(of: c, toByteOffset: 64 * i, as: SIMD16<Float>.self) }
                        save(c0, 0); save(c1, 1); save(c2, 2); save(c3, 3); save(c4, 4); save(c5, 5); save(c6, 6); save(c7, 7)
                        save(d0, 8); save(d1, 9); save(d2, 10); save(d3, 11); save(d4, 12); save(d5, 13); save(d6, 14); save(d7, 15)
                    }
                    r0 += 8
                }
                k0 = k1
            }
            j += 32
        }
        if j < j1 { floatPanel(x, rows: rows, inDim: inDim, panels, out: out, col: j, into: y) }
    }

    /// One 16-column panel (columns j ..< j + 16): 8 rows × 16 columns of accumulators, K in one pass.
    @inline(__always)
    static func floatPanel(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ panels: UnsafePointer<Float>,
                           out: Int, col j: Int, into y: UnsafeMutablePointer<Float>) {
        let panel = UnsafeRawPointer(panels + (j / 16) * inDim * 16)
        var r0 = 0
        while r0 < rows {
            let rb = min(8, rows - r0)
            let (x0, x1, x2, x3, x4, x5, x6, x7) = inputRows(x, r0, rb, inDim)
            var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
            var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
            var p = panel
            for k in 0..<inDim {
                let w = p.loadUnaligned(as: SIMD16<Float>.self)
                c0.addProduct(SIMD16(repeating: x0[k]), w); c1.addProduct(SIMD16(repeating: x1[k]), w)
                c2.addProduct(SIMD16(repeating: x2[k]), w); c3.addProduct(SIMD16(repeating: x3[k]), w)
                c4.addProduct(SIMD16(repeating: x4[k]), w); c5.addProduct(SIMD16(repeating: x5[k]), w)
                c6.addProduct(SIMD16(repeating: x6[k]), w); c7.addProduct(SIMD16(repeating: x7[k]), w)
                p += 64
            }
            storeBlock((c0, c1, c2, c3, c4, c5, c6, c7), y, r0, rb, out, j, nil)
            r0 += 8
        }
    }

    /// y[r, j0 ..< j1] += (Σ_k x[r, k] · q[k, j]) · scale[j] on int8 weights `q` [inDim, out]
    /// row-major, converted to float as they are used (no float copy). j0, j1: j1 - j0 a multiple of 16.
    @inline(never)
    public static func productInt8(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, _ q: UnsafePointer<Int8>,
                                   scales: UnsafePointer<Float>, out: Int, cols j0: Int, _ j1: Int,
                                   into y: UnsafeMutablePointer<Float>) {
        var j = j0
        while j < j1 {
            let scale = UnsafeRawPointer(scales + j).loadUnaligned(as: SIMD16<Float>.self)
            var r0 = 0
            while r0 < rows {
                let rb = min(8, rows - r0)
                let (x0, x1, x2, x3, x4, x5, x6, x7) = inputRows(x, r0, rb, inDim)
                var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
                var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
                var p = q + j
                for k in 0..<inDim {
                    var w = SIMD16<Float>()
                    for i in 0..<16 { w[i] = Float(p[i]) }      // one vpmovsxbd + vcvtdq2ps
                    c0.addProduct(SIMD16(repeating: x0[k]), w); c1.addProduct(SIMD16(repeating: x1[k]), w)
                    c2.addProduct(SIMD16(repeating: x2[k]), w); c3.addProduct(SIMD16(repeating: x3[k]), w)
                    c4.addProduct(SIMD16(repeating: x4[k]), w); c5.addProduct(SIMD16(repeating: x5[k]), w)
                    c6.addProduct(SIMD16(repeating: x6[k]), w); c7.addProduct(SIMD16(repeating: x7[k]), w)
                    p += out
                }
                storeBlock((c0, c1, c2, c3, c4, c5, c6, c7), y, r0, rb, out, j, scale)
                r0 += 8
            }
            j += 16
        }
    }

    /// GELU, tanh approximation, in place, 16 lanes at a time: `Kernels.gelu`'s arithmetic (the same
    /// rational tanh, Eigen's 13/6, and the same operation order, so the same bits) written on
    /// SIMD16 directly, because LLVM vectorises the plain loop only 8 lanes wide even here
    /// (`prefer-vector-width=256` of skylake-avx512) and generic SIMD code is not specialised.
    @inline(never)
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let p = UnsafeMutableRawPointer(x + i)
            let v = p.loadUnaligned(as: SIMD16<Float>.self)
            let u = 0.7978845608028654 * (v + 0.044715 * v * v * v)
            p.storeBytes(of: 0.5 * v * (1 + tanh16(u)), as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {      // the last count % 16 values: one padded vector
            var v = SIMD16<Float>()
            for j in 0..<(count - i) { v[j] = x[i + j] }
            let u = 0.7978845608028654 * (v + 0.044715 * v * v * v)
            let g = 0.5 * v * (1 + tanh16(u))
            for j in 0..<(count - i) { x[i + j] = g[j] }
            i = count
        }
    }

    @inline(__always)
    static func tanh16(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let bound = SIMD16<Float>(repeating: 7.90531110763549805)
        let v = x.replacing(with: bound, where: x .> bound).replacing(with: -bound, where: x .< -bound)
        let x2 = v * v
        var p = SIMD16<Float>(repeating: -2.76076847742355e-16)
        p = p * x2 + 2.00018790482477e-13
        p = p * x2 + -8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        p = p * v
        var q = SIMD16<Float>(repeating: 1.19825839466702e-06)
        q = q * x2 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        return p / q
    }

    /// y[j0 ..< j1] += x[0 ..< inDim] @ W[:, j0 ..< j1] on 16-column panels (`panels`:
    /// [out / 16][inDim][16]; j0, j1 multiples of 16): one row (the head, the state token); the AVX2
    /// loop's k order per panel, so its bits. Four panels at a time: four independent chains of
    /// multiply-adds, where one panel's chain alone waits on the FMA latency at every k.
    @inline(never)
    public static func gemvPanels(_ x: UnsafePointer<Float>, inDim: Int, _ panels: UnsafePointer<Float>,
                                  cols j0: Int, _ j1: Int, into y: UnsafeMutablePointer<Float>) {
        var p = j0 / 16
        let p1 = j1 / 16
        while p + 4 <= p1 {
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            var w = UnsafeRawPointer(panels + p * inDim * 16)
            let s = 64 * inDim
            for i in 0..<inDim {
                let v = SIMD16<Float>(repeating: x[i])
                a0.addProduct(v, w.loadUnaligned(as: SIMD16<Float>.self))
                a1.addProduct(v, w.loadUnaligned(fromByteOffset: s, as: SIMD16<Float>.self))
                a2.addProduct(v, w.loadUnaligned(fromByteOffset: 2 * s, as: SIMD16<Float>.self))
                a3.addProduct(v, w.loadUnaligned(fromByteOffset: 3 * s, as: SIMD16<Float>.self))
                w += 64
            }
            @inline(__always) func add(_ acc: SIMD16<Float>, _ q: Int) {
                let yp = UnsafeMutableRawPointer(y + 16 * (p + q))
                yp.storeBytes(of: yp.loadUnaligned(as: SIMD16<Float>.self) + acc, as: SIMD16<Float>.self)
            }
            add(a0, 0); add(a1, 1); add(a2, 2); add(a3, 3)
            p += 4
        }
        while p < p1 {
            var acc = SIMD16<Float>(), w = UnsafeRawPointer(panels + p * inDim * 16)
            for i in 0..<inDim { acc.addProduct(SIMD16(repeating: x[i]), w.loadUnaligned(as: SIMD16<Float>.self)); w += 64 }
            let yp = UnsafeMutableRawPointer(y + 16 * p)
            yp.storeBytes(of: yp.loadUnaligned(as: SIMD16<Float>.self) + acc, as: SIMD16<Float>.self)
            p += 1
        }
    }

    /// The 8 input rows of the block starting at row r0, `inDim` floats apart; rows past the
    /// block's `rb` real ones repeat row r0 (their sums are computed and never stored).
    @inline(__always)
    static func inputRows(_ x: UnsafePointer<Float>, _ r0: Int, _ rb: Int, _ inDim: Int)
        -> (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
            UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) {
        let x0 = x + r0 * inDim
        return (x0, x0 + (rb > 1 ? inDim : 0), x0 + (rb > 2 ? 2 * inDim : 0), x0 + (rb > 3 ? 3 * inDim : 0),
                x0 + (rb > 4 ? 4 * inDim : 0), x0 + (rb > 5 ? 5 * inDim : 0), x0 + (rb > 6 ? 6 * inDim : 0),
                x0 + (rb > 7 ? 7 * inDim : 0))
    }

    /// y[r0 + r, j ..< j + 16] += c_r (· scale) for the block's `rb` real rows r.
    @inline(__always)
    static func storeBlock(_ c: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                                 SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>),
                           _ y: UnsafeMutablePointer<Float>, _ r0: Int, _ rb: Int, _ out: Int, _ j: Int, _ scale: SIMD16<Float>?) {
        store(c.0, y, r0, 0, rb, out, j, scale); store(c.1, y, r0, 1, rb, out, j, scale)
        store(c.2, y, r0, 2, rb, out, j, scale); store(c.3, y, r0, 3, rb, out, j, scale)
        store(c.4, y, r0, 4, rb, out, j, scale); store(c.5, y, r0, 5, rb, out, j, scale)
        store(c.6, y, r0, 6, rb, out, j, scale); store(c.7, y, r0, 7, rb, out, j, scale)
    }

    /// y[r0 + r, j ..< j + 16] += c (· scale) when row r is one of the block's `rb` real rows.
    @inline(__always)
    static func store(_ c: SIMD16<Float>, _ y: UnsafeMutablePointer<Float>, _ r0: Int, _ r: Int, _ rb: Int, _ out: Int,
                      _ j: Int, _ scale: SIMD16<Float>?) {
        guard r < rb else { return }
        let yr = UnsafeMutableRawPointer(y + (r0 + r) * out + j)
        let add = scale.map { c * $0 } ?? c
        yr.storeBytes(of: yr.loadUnaligned(as: SIMD16<Float>.self) + add, as: SIMD16<Float>.self)
    }
}

/// Attention for one head in two halves around the engine's softmax, for short sequences
/// (t tokens, a few dozen): BLAS calls at these sizes cost more in set-up and packing than in
/// arithmetic. Head width `dh` a multiple of 16.
extension WideKernels {
    /// Columns of a score row: t rounded up to 16.
    public static func paddedTokens(_ t: Int) -> Int { (t + 15) / 16 * 16 }

    /// scores[i, j] = scale · q[i] · k[j] for i, j < t (row stride of scores: paddedTokens(t);
    /// columns t ..< padded are 0 · scale). q, k: rows of dh floats, `ld` apart.
    /// `kt`: scratch of dh · paddedTokens(t) floats (k transposed, zero-padded).
    @inline(never)
    public static func attentionScores(q: UnsafePointer<Float>, k: UnsafePointer<Float>, ld: Int, t: Int, dh: Int, scale: Float,
                                       kt: UnsafeMutablePointer<Float>, into scores: UnsafeMutablePointer<Float>) {
        let tp = paddedTokens(t)
        for d in 0..<dh {
            let row = kt + d * tp
            for j in 0..<t { row[j] = k[j * ld + d] }
            for j in t..<tp { row[j] = 0 }
        }
        smallProduct(q, lda: ld, rows: t, kt, ldb: tp, depth: dh, cols: tp, scale: scale, into: scores, ldOut: tp)
    }

    /// out[i, 0 ..< dh] = Σ_{j < t} p[i, j] · v[j, 0 ..< dh] (p's row stride paddedTokens(t); v rows
    /// `ld` apart; out rows `ldOut` apart). dh a multiple of 16.
    @inline(never)
    public static func attentionValues(p: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int, t: Int, dh: Int,
                                       into out: UnsafeMutablePointer<Float>, ldOut: Int) {
        smallProduct(p, lda: paddedTokens(t), rows: t, v, ldb: ld, depth: t, cols: dh, scale: 1, into: out, ldOut: ldOut)
    }

    /// out[i, c ..< c + 16] = scale · Σ_{k < depth} a[i, k] · b[k, c ..< c + 16] for i < rows and
    /// c < cols (a multiple of 16); rows `lda`, `ldb`, `ldOut` floats apart. Attention's two
    /// products: 8 rows of `a` at a time share each load of `b`, 8 independent sums over k (one
    /// row's sum alone is a chain of dependent multiply-adds that waits on the FMA latency). The
    /// scale multiplies the finished sum (× 1 is exact).
    @inline(__always)
    static func smallProduct(_ a: UnsafePointer<Float>, lda: Int, rows: Int, _ b: UnsafePointer<Float>, ldb: Int, depth: Int,
                             cols: Int, scale: Float, into out: UnsafeMutablePointer<Float>, ldOut: Int) {
        let s = SIMD16<Float>(repeating: scale)
        var i0 = 0
        while i0 < rows {
            let rb = min(8, rows - i0)
            let (x0, x1, x2, x3, x4, x5, x6, x7) = inputRows(a, i0, rb, lda)
            var c = 0
            while c < cols {
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
                var p = UnsafeRawPointer(b + c)
                for k in 0..<depth {
                    let w = p.loadUnaligned(as: SIMD16<Float>.self)
                    a0.addProduct(SIMD16(repeating: x0[k]), w); a1.addProduct(SIMD16(repeating: x1[k]), w)
                    a2.addProduct(SIMD16(repeating: x2[k]), w); a3.addProduct(SIMD16(repeating: x3[k]), w)
                    a4.addProduct(SIMD16(repeating: x4[k]), w); a5.addProduct(SIMD16(repeating: x5[k]), w)
                    a6.addProduct(SIMD16(repeating: x6[k]), w); a7.addProduct(SIMD16(repeating: x7[k]), w)
                    p += 4 * ldb
                }
                @inline(__always) func put(_ v: SIMD16<Float>, _ r: Int) {
                    if r < rb { UnsafeMutableRawPointer(out + (i0 + r) * ldOut + c).storeBytes(of: v * s, as: SIMD16<Float>.self) }
                }
                put(a0, 0); put(a1, 1); put(a2, 2); put(a3, 3); put(a4, 4); put(a5, 5); put(a6, 6); put(a7, 7)
                c += 16
            }
            i0 += 8
        }
    }
}

extension WideKernels {
    /// The CPU's float32 multiply-add peak on one thread, measured: `steps` rounds of 12 independent
    /// 16-lane fused multiply-adds (enough chains to cover the FMA latency on two ports), 2 FLOPs a
    /// lane. Returns the FLOPs done; the caller times it. `seed` keeps the compiler from folding.
    @inline(never)
    public static func fmaPeakFLOPs(steps: Int, seed: Float) -> (flops: Double, checksum: Float) {
        var a = (0..<12).map { SIMD16<Float>(repeating: seed + Float($0)) }
        let m = SIMD16<Float>(repeating: 0.999999), c = SIMD16<Float>(repeating: 1e-7)
        var a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5]
        var a6 = a[6], a7 = a[7], a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11]
        for _ in 0..<steps {
            a0.addProduct(a0, m); a1.addProduct(a1, m); a2.addProduct(a2, m); a3.addProduct(a3, m)
            a4.addProduct(a4, m); a5.addProduct(a5, m); a6.addProduct(a6, m); a7.addProduct(a7, m)
            a8.addProduct(a8, m); a9.addProduct(a9, m); a10.addProduct(a10, m); a11.addProduct(a11, m)
        }
        a = [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11]
        let sum = a.reduce(SIMD16<Float>(), +) + c
        return (Double(steps) * 12 * 16 * 2, sum.sum())
    }
}
