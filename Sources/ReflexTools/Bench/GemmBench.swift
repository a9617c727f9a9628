import COpenBLAS
import CReflexCPU
import Foundation
import ReflexEngine
import ReflexKernelsAVX512
import ReflexScheduler

/// `reflexctl bench gemm`: GFLOP/s of each GEMM candidate at the engine's real shapes (one
/// block's four products, M = the model's tokens), side by side, one thread:
/// - `sgemm`: Debian's OpenBLAS `cblas_sgemm` on float32 weights (the baseline);
/// - `int8_tiles`: int8 weights dequantised 256 × 256 at a time into scratch, then sgemm;
/// - `f32_blocked`: float32 weights through a register-blocked 4 × 16 SIMD kernel (what float
///   bundles run);
/// - `int8_direct`: int8 weights converted in the inner loop of a plain four-row kernel;
/// - `int8_blocked`: the register-blocked 4 × 16 kernel on int8 weights (what int8 bundles run
///   without AVX-512);
/// - `f32_packed`: the 4 × 16 kernel on 16-column panels (what float bundles run without AVX-512);
/// - `f32_avx512`, `int8_avx512`: the 8 × 16 AVX-512 kernels on panels (K in one pass) and on
///   int8 weights (what the engine runs for int8 where the CPU has AVX-512; null elsewhere);
/// - `f32_avx512_kblocked`: the AVX-512 float32 kernel with K cut into `Kernels.kBlock` rows
///   (what the engine runs for float32 where the CPU has AVX-512; null elsewhere).
public struct GemmBench {
    public struct Shape { public let name: String; public let m, n, k: Int }

    let iterations: Int
    let warmup = 5

    public init(iterations: Int) { self.iterations = iterations }

    /// One block's products for a model of `tokens` tokens, width `d`, MLP `mlp`.
    public static func blockShapes(tokens t: Int, width d: Int, mlp: Int) -> [Shape] {
        [Shape(name: "qkv", m: t, n: 3 * d, k: d), Shape(name: "attn.out", m: t, n: d, k: d),
         Shape(name: "mlp.fc1", m: t, n: mlp, k: d), Shape(name: "mlp.fc2", m: t, n: d, k: mlp)]
    }

    public func run(config: String, shapes: [Shape]) -> [[String: Any]] {
        shapes.map { s in
            var rng = SplitMix64(seed: UInt64(s.m * 31 + s.n * 7 + s.k))
            let x = Tensor(shape: [s.m, s.k]), w = Tensor(shape: [s.k, s.n]), y = Tensor(shape: [s.m, s.n])
            for i in 0..<x.count { x.data[i] = Float(rng.next() >> 40) / Float(1 << 23) - 1 }
            for i in 0..<w.count { w.data[i] = Float(rng.next() >> 40) / Float(1 << 23) - 1 }
            let scales = Tensor(shape: [s.n])
            for j in 0..<s.n { scales.data[j] = 1.0 / 127 }
            let q = Int8Matrix(rows: s.k, cols: s.n, scales: scales)
            for i in 0..<w.count { q.values[i] = Int8(clamping: Int((w.data[i] * 127).rounded())) }
            let scratch = Tensor(shape: [max(Kernels.tileRows * Kernels.tileCols, 4 * s.n)])
            let panels = Kernels.packPanels(w)
            let accumulators = Tensor(shape: [WideKernels.accumulatorFloats(rows: s.m)])
            let flops = Double(2 * s.m * s.n * s.k)
            // Candidates take turns call by call, so that a change in the machine's load (it is
            // shared) falls on all of them alike.
            let wide = reflex_cpu_has_avx512() != 0
            var candidates: [() -> Void] = [
                { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(s.m), Int32(s.n), Int32(s.k),
                              1, x.data, Int32(s.k), w.data, Int32(s.n), 1, y.data, Int32(s.n)) },
                { Kernels.productFloatBlocked(x.data, rows: s.m, inDim: s.k, w, cols: 0..<s.n, into: y.data) },
                { Kernels.productInt8Tiles(x.data, rows: s.m, inDim: s.k, q, cols: 0..<s.n, into: y.data, scratch: scratch) },
                { Kernels.productInt8(x.data, rows: s.m, inDim: s.k, q, cols: 0..<s.n, into: y.data, scratch: scratch) },
                { Kernels.productInt8Blocked(x.data, rows: s.m, inDim: s.k, q, cols: 0..<s.n, into: y.data, scratch: scratch) },
                { Kernels.productFloatPacked(x.data, rows: s.m, inDim: s.k, panels, outCols: s.n, cols: 0..<s.n, into: y.data) },
            ]
            if wide {
                let n16 = s.n / 16 * 16
                candidates.append { WideKernels.productFloatPanels(x.data, rows: s.m, inDim: s.k, panels.data, out: s.n, cols: 0, n16, into: y.data) }
                candidates.append { WideKernels.productInt8(x.data, rows: s.m, inDim: s.k, q.values, scales: q.scales.data, out: s.n,
                                                            cols: 0, n16, into: y.data) }
                candidates.append { WideKernels.productFloatPanelsKBlocked(x.data, rows: s.m, inDim: s.k, panels.data, out: s.n, cols: 0, n16,
                                                                          kBlock: Kernels.kBlock, accumulators: accumulators.data, into: y.data) }
            }
            var samples = Array(repeating: [Double](), count: candidates.count)
            for r in 0..<(warmup + iterations) {
                for (i, call) in candidates.enumerated() {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    call()
                    let t1 = DispatchTime.now().uptimeNanoseconds
                    if r >= warmup { samples[i].append(Double(t1 - t0) / 1e3) }
                }
            }
            let gflops = samples.map { flops / LatencySummary($0).median / 1e3 }
            let (sgemm, floatBlocked, tiles, direct, blocked, packed) = (gflops[0], gflops[1], gflops[2], gflops[3], gflops[4], gflops[5])
            let f32Wide: Any = wide ? gflops[6] : NSNull(), int8Wide: Any = wide ? gflops[7] : NSNull()
            return ["config": config, "shape": s.name, "m": s.m, "n": s.n, "k": s.k, "threads": 1,
                    "sgemm_gflops": sgemm, "int8_tiles_gflops": tiles, "int8_direct_gflops": direct, "f32_blocked_gflops": floatBlocked,
                    "int8_blocked_gflops": blocked, "f32_packed_gflops": packed, "f32_avx512_gflops": f32Wide,
                    "int8_avx512_gflops": int8Wide, "f32_avx512_kblocked_gflops": wide ? gflops[8] : NSNull()]
        }
    }

    /// One thread's float32 FMA peak in GFLOP/s (WideKernels.fmaPeakFLOPs, median of `runs`), where
    /// the CPU has AVX-512 (the width the engine then runs at); nil elsewhere.
    public static func fmaPeakGFLOPs(runs: Int = 7) -> Double? {
        guard reflex_cpu_has_avx512() != 0 else { return nil }
        var samples: [Double] = []
        for r in 0..<runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (flops, checksum) = WideKernels.fmaPeakFLOPs(steps: 20_000_000, seed: Float(r))
            let t1 = DispatchTime.now().uptimeNanoseconds
            if checksum.isNaN { return nil }     // never: keeps the loop's result alive
            samples.append(flops / Double(t1 - t0))
        }
        return LatencySummary(samples).median
    }

    /// One thread's read bandwidth from memory in GB/s (1e9 bytes a second, median of `runs`):
    /// a sum over a `bytes`-long float32 buffer, several times the last-level cache, in 16-lane
    /// vectors with four independent accumulators, so the loads, not the adds, set the pace.
    /// Beside `bench engine`'s weight streaming rate it shows whether a step whose weights do not
    /// fit in cache is bound by memory (docs/PERFORMANCE.md).
    public static func memoryReadGBps(bytes: Int = 1 << 30, runs: Int = 5) -> Double {
        let count = bytes / MemoryLayout<SIMD16<Float>>.stride
        let buffer = UnsafeMutableBufferPointer<SIMD16<Float>>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: SIMD16(repeating: 1))      // touches every page first
        var samples: [Double] = []
        var checksum: Float = 0
        for _ in 0..<runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            var i = 0
            while i + 4 <= count {
                a0 += buffer[i]; a1 += buffer[i + 1]; a2 += buffer[i + 2]; a3 += buffer[i + 3]
                i += 4
            }
            checksum += (a0 + a1 + a2 + a3).sum()
            let t1 = DispatchTime.now().uptimeNanoseconds
            samples.append(Double(count * MemoryLayout<SIMD16<Float>>.stride) / Double(t1 - t0))
        }
        return checksum.isNaN ? .nan : LatencySummary(samples).median     // checksum keeps the loop alive
    }

    public static func table(_ cases: [[String: Any]]) -> String {
        var s = "config     shape      M     N     K   sgemm_GF/s  f32_blkd_GF/s   int8_tiles_GF/s  int8_direct_GF/s  int8_blocked_GF/s  f32_packed_GF/s  f32_avx512  int8_avx512  f32_avx512_kblk\n"
        for c in cases {
            s += (c["config"] as! String).padding(toLength: 10, withPad: " ", startingAt: 0) + " "
            s += (c["shape"] as! String).padding(toLength: 8, withPad: " ", startingAt: 0)
            s += String(format: " %5d %5d %5d %12.1f %15.1f %16.1f %17.1f\n", c["m"] as! Int, c["n"] as! Int, c["k"] as! Int,
                        c["sgemm_gflops"] as! Double, c["f32_blocked_gflops"] as! Double, c["int8_tiles_gflops"] as! Double,
                        c["int8_direct_gflops"] as! Double)
            s.removeLast()
            s += String(format: " %18.1f %16.1f %11.1f %12.1f %16.1f\n", c["int8_blocked_gflops"] as! Double, c["f32_packed_gflops"] as! Double,
                        c["f32_avx512_gflops"] as? Double ?? .nan, c["int8_avx512_gflops"] as? Double ?? .nan,
                        c["f32_avx512_kblocked_gflops"] as? Double ?? .nan)
        }
        return s
    }
}
