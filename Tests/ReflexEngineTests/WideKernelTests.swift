import CReflexCPU
import Foundation
import ReflexKernelsAVX512
import Testing
@testable import ReflexEngine

/// The AVX-512 kernels (ReflexKernelsAVX512) give the same bits as the AVX2 kernels they replace
/// where the CPU has AVX-512: same summation order over k, fused multiply-adds in both. Row counts
/// cover full 8-row blocks, a remainder, and fewer rows than one block; column slices start past 0.
@Suite(.enabled(if: reflex_cpu_has_avx512() != 0, "this CPU has no AVX-512: the wide kernels never run here"))
struct WideKernelTests {
    static let rowCounts = [1, 3, 8, 13, 45]
    /// More partial last blocks (2 and 4 rows) and the large configuration's 74 tokens.
    static let tailRowCounts = [2, 4, 10, 12, 74]

    @Test func theEngineDispatchesToTheWideKernelsHere() {
        // this suite runs only where the CPU has AVX-512; REFLEX_KERNELS=avx2 is not set by the tests
        #expect(Kernels.kernelISA == (ProcessInfo.processInfo.environment["REFLEX_KERNELS"] == "avx2" ? "avx2" : "avx512"))
    }

    @Test(arguments: rowCounts + tailRowCounts, [64, 176])
    func floatPanelsGiveTheBitsOfTheAVX2Kernel(rows: Int, n: Int) {
        // n = 176: columns 16 ..< 176 are five panel pairs (32 columns each), n = 64 one pair and one single panel
        let k = 37, cols = 16..<n
        let w = Tensor(shape: [k, n], values: (0..<(k * n)).map { Float(($0 * 29) % 31) / 15 - 1 })
        let panels = Kernels.packPanels(w)
        let x = Tensor(shape: [rows, k], values: (0..<(rows * k)).map { Float(($0 * 13) % 17) / 8 - 1 })
        let start = (0..<(rows * n)).map { Float($0 % 3) }
        let wide = Tensor(shape: [rows, n], values: start), narrow = Tensor(shape: [rows, n], values: start)
        WideKernels.productFloatPanels(x.data, rows: rows, inDim: k, panels.data, out: n, cols: cols.lowerBound, cols.upperBound,
                                       into: wide.data)
        Kernels.productFloatPacked(x.data, rows: rows, inDim: k, panels, outCols: n, cols: cols, into: narrow.data)
        #expect(wide.toArray() == narrow.toArray())
        #expect(wide.data[0] == 0 && wide.data[15] == Float(15 % 3), "columns outside the slice are untouched")
    }

    /// K cut into blocks (the accumulators wait in memory between them) gives the unblocked kernel's
    /// bits: K below, at and past a block, a last block shorter than the others; 153 rows are the
    /// 8-px-patch model's tokens.
    @Test(arguments: rowCounts + [74, 153], [(37, 16), (64, 64), (100, 32), (300, 128)])
    func kBlockedFloatPanelsGiveTheBitsOfTheUnblockedKernel(rows: Int, kAndBlock: (Int, Int)) {
        let (k, kBlock) = kAndBlock, n = 176, cols = 16..<n
        let w = Tensor(shape: [k, n], values: (0..<(k * n)).map { Float(($0 * 29) % 31) / 15 - 1 })
        let panels = Kernels.packPanels(w)
        let x = Tensor(shape: [rows, k], values: (0..<(rows * k)).map { Float(($0 * 13) % 17) / 8 - 1 })
        let start = (0..<(rows * n)).map { Float($0 % 3) }
        let blocked = Tensor(shape: [rows, n], values: start), plain = Tensor(shape: [rows, n], values: start)
        let accumulators = Tensor(shape: [WideKernels.accumulatorFloats(rows: rows)])
        WideKernels.productFloatPanelsKBlocked(x.data, rows: rows, inDim: k, panels.data, out: n, cols: cols.lowerBound, cols.upperBound,
                                               kBlock: kBlock, accumulators: accumulators.data, into: blocked.data)
        WideKernels.productFloatPanels(x.data, rows: rows, inDim: k, panels.data, out: n, cols: cols.lowerBound, cols.upperBound,
                                       into: plain.data)
        #expect(blocked.toArray() == plain.toArray())
        #expect(blocked.data[0] == 0 && blocked.data[15] == Float(15 % 3), "columns outside the slice are untouched")
    }

    @Test(arguments: rowCounts)
    func int8GivesTheBitsOfTheAVX2Kernel(rows: Int) {
        let k = 37, n = 48, cols = 16..<48
        let scales = Tensor(shape: [n], values: (0..<n).map { Float($0 % 5 + 1) * 0.01 })
        let q = Int8Matrix(rows: k, cols: n, scales: scales)
        for i in 0..<(k * n) { q.values[i] = Int8(truncatingIfNeeded: (i * 37) % 255 - 127) }
        let x = Tensor(shape: [rows, k], values: (0..<(rows * k)).map { Float(($0 * 13) % 17) / 8 - 1 })
        let start = (0..<(rows * n)).map { Float($0 % 3) }
        let wide = Tensor(shape: [rows, n], values: start), narrow = Tensor(shape: [rows, n], values: start)
        WideKernels.productInt8(x.data, rows: rows, inDim: k, q.values, scales: q.scales.data, out: n, cols: cols.lowerBound,
                                cols.upperBound, into: wide.data)
        Kernels.productInt8Blocked(x.data, rows: rows, inDim: k, q, cols: cols, into: narrow.data, scratch: Tensor(shape: [4 * n]))
        #expect(wide.toArray() == narrow.toArray())
    }

    /// One head's attention (scores, the engine's softmax, values) against a double-precision loop,
    /// at token counts below, at and above a multiple of 16 and of the 8-row blocks (74: the large
    /// configuration's tokens, a last block of 2 rows).
    @Test(arguments: [5, 16, 45, 74])
    func attentionOfOneHeadEqualsAPlainLoop(tokens t: Int) {
        let d = 64, dh = 32, ld = 3 * d, scale = 1 / Float(dh).squareRoot()
        let qkv = Tensor(shape: [t, ld], values: (0..<(t * ld)).map { Float(($0 * 29) % 37) / 18 - 1 })
        let q = qkv.data + dh, k = qkv.data + d + dh, v = qkv.data + 2 * d + dh      // head 1
        let tp = WideKernels.paddedTokens(t)
        let scores = Tensor(shape: [tp * (t + dh)]), out = Tensor(shape: [t, d])
        WideKernels.attentionScores(q: q, k: k, ld: ld, t: t, dh: dh, scale: scale, kt: scores.data + t * tp, into: scores.data)
        Kernels.softmaxRows(scores.data, rows: t, cols: t, ld: tp)
        WideKernels.attentionValues(p: scores.data, v: v, ld: ld, t: t, dh: dh, into: out.data + dh, ldOut: d)
        for i in 0..<t {
            let logits = (0..<t).map { j in Double(scale) * (0..<dh).reduce(0.0) { $0 + Double(q[i * ld + $1]) * Double(k[j * ld + $1]) } }
            let m = logits.max()!, e = logits.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
            for c in 0..<dh {
                let want = (0..<t).reduce(0.0) { $0 + e[$1] / z * Double(v[$1 * ld + c]) }
                #expect(abs(Double(out.data[i * d + dh + c]) - want) <= 1e-5 * max(1, abs(want)), "row \(i) column \(c)")
            }
            #expect(out.data[i * d] == 0, "other heads' columns are untouched")
        }
    }

    /// GELU at 16 lanes gives the plain loop's bits, across the tanh clamp (|x| > 7.9) and with a
    /// count that leaves a partial vector.
    @Test func geluGivesTheBitsOfThePlainLoop() {
        let n = 16 * 9 + 7
        let values = (0..<n).map { Float($0 - n / 2) * 0.137 }      // -10.9 ... 10.9
        let wide = Tensor(shape: [n], values: values), narrow = Tensor(shape: [n], values: values)
        WideKernels.gelu(wide.data, count: n)
        Kernels.geluScalar(narrow.data, count: n)
        #expect(wide.toArray() == narrow.toArray())
        #expect(abs(narrow.data[n - 1] - values[n - 1]) < 1e-5 && abs(narrow.data[0]) < 1e-5, "GELU(x) = x far right, 0 far left")
    }

    /// The one-row product on panels sums over k in order with fused multiply-adds, as the AVX2
    /// loop does: the same bits as a scalar fused multiply-add loop, in the four-panel groups and
    /// the panels left over, over all columns and over a range of them (one thread's share).
    @Test(arguments: [(0, 112), (16, 112), (32, 80)])
    func aRowProductOnPanelsSumsInTheAVX2Order(j0: Int, j1: Int) {
        let k = 37, n = 112     // 7 panels: one group of four and three single ones
        let w = Tensor(shape: [k, n], values: (0..<(k * n)).map { Float(($0 * 29) % 31) / 15 - 1 })
        let panels = Kernels.packPanels(w)
        let x = (0..<k).map { Float(($0 * 13) % 17) / 8 - 1 }
        let y = Tensor(shape: [n], values: (0..<n).map { Float($0 % 3) })
        x.withUnsafeBufferPointer { WideKernels.gemvPanels($0.baseAddress!, inDim: k, panels.data, cols: j0, j1, into: y.data) }
        for j in 0..<n {
            var acc: Float = 0
            for i in 0..<k { acc = acc.addingProduct(x[i], w.data[i * n + j]) }
            #expect(y.data[j] == Float(j % 3) + ((j0..<j1).contains(j) ? acc : 0), "column \(j)")
        }
    }
}
