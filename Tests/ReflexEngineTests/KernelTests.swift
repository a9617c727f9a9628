import Foundation
import Testing
@testable import ReflexEngine

@Suite struct KernelTests {
    @Test func fastTanhIsWithinOneMillionthOfLibm() {
        var worst: Float = 0
        for i in -20000...20000 {
            let x = Float(i) / 1000
            let got = Kernels.tanh(x)
            worst = max(worst, abs(got - Foundation.tanh(x)))
        }
        #expect(worst < 1e-6, "worst error \(worst)")
    }

    @Test func fastExpIsWithinTwoMillionthsRelativeOfLibm() {
        var worst: Float = 0
        for i in -8000...8000 {
            let x = Float(i) / 100
            let got = Kernels.exp(x)
            worst = max(worst, abs(got - Foundation.exp(x)) / Foundation.exp(x))
        }
        #expect(worst < 2e-6, "worst relative error \(worst)")
    }

    @Test func softmaxRowsSumToOneAndMatchTheDefinition() {
        var x: [Float] = (0..<30).map { Float($0 % 7) - 3 }
        x.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: 3, cols: 10, ld: 10) }
        for r in 0..<3 {
            let row = Array(x[(r * 10)..<(r * 10 + 10)])
            #expect(abs(row.reduce(0, +) - 1) < 1e-6)
        }
        let ref = (0..<10).map { Foundation.exp(Float($0 % 7) - 3) }
        let s = ref.reduce(0, +)
        for j in 0..<10 { #expect(abs(x[j] - ref[j] / s) < 1e-6) }
    }

    /// A one-row product large enough to be split across threads (`parallelGemvWeights`) gives
    /// the bits the calling thread alone gives, on float32 panels: each thread sums its own
    /// columns in the same order.
    @Test func aSplitRowProductGivesTheBitsOfOneThread() {
        let k = 512, n = 528       // 270,336 weights ≥ 2^18; 33 panels: the threads' shares are uneven
        #expect(k * n >= Kernels.parallelGemvWeights)
        let w = Tensor(shape: [k, n], values: (0..<(k * n)).map { Float(($0 * 37) % 101) / 50 - 1 })
        let panels = WeightMatrix.float32Panels(Kernels.packPanels(w))
        let x = (0..<k).map { Float(($0 * 11) % 23) / 11 - 1 }
        let one = Tensor(shape: [n], values: (0..<n).map { Float($0 % 5) })
        let split = Tensor(shape: [n], values: one.toArray())
        let pool = ComputePool(threads: 2)
        defer { pool.stop() }
        x.withUnsafeBufferPointer {
            Kernels.gemv($0.baseAddress!, panels, into: one.data, scratch: Tensor(shape: [1]))
            Kernels.gemv($0.baseAddress!, panels, into: split.data, scratch: Tensor(shape: [1]), pool: pool)
        }
        #expect(split.toArray() == one.toArray())
        var acc: Float = 0
        for i in 0..<k { acc = acc.addingProduct(x[i], w.data[i * n + (n - 1)]) }
        #expect(one.data[n - 1] == Float((n - 1) % 5) + acc, "the last column, the second thread's, by hand")
    }
}
