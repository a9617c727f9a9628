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
}
