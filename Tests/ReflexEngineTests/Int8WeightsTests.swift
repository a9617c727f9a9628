import Foundation
import Testing
@testable import ReflexEngine

/// Bundles with int8 weight matrices (docs/MODEL_FORMAT.md, "int8 weights"): held as int8 in
/// memory, counted so by the cost model, checked on load.
@Suite struct Int8WeightsTests {
    @Test func everyMatrixIsHeldAsInt8AndTheRestAsFloat32() throws {
        let b = try ModelBundle(directory: FixturePaths.bundle("tiny-int8"))
        let listed = Set(b.manifest.quantization!.tensors)
        #expect(Set(b.matrices.keys) == listed)
        #expect(b.matrices.values.allSatisfy { $0.isInt8 })
        #expect(b.hasInt8Weights)
        #expect(b.storedDTypes["I8"] == listed.count)
        // 4 blocks × (ln1, ln2, 4 biases) + 5 exit norms × 2 + embeddings, biases of the rest.
        #expect(b.weights.keys.allSatisfy { !listed.contains($0) })
    }

    @Test func residentBytesCountOneBytePerWeightAndFourPerScale() throws {
        let b = try ModelBundle(directory: FixturePaths.bundle("tiny-int8"))
        let a = b.manifest.architecture, d = a.width, m = a.mlpHidden
        // exit 2 − exit 1 = one block: matrices [d, 3d], [d, d], [d, m], [m, d] as int8 with one
        // float scale per column; ln1, ln2 and biases (3d + d + m + d) and exit norm 2 (2d) in float32.
        let matrices = d * 3 * d + d * d + 2 * d * m + 4 * (3 * d + d + m + d)
        let floats = 4 * (4 * d + 3 * d + d + m + d + 2 * d)
        #expect(b.cost.residentBytes[1] - b.cost.residentBytes[0] == matrices + floats)
        #expect(b.residentBytes == b.cost.residentBytes.last)
    }

    @Test func theSameModelInFloat32NeedsMoreThanThreeTimesTheBytesPerBlock() throws {
        let int8 = try ModelBundle(directory: FixturePaths.bundle("tiny-int8"))
        var manifest = int8.manifest
        manifest.quantization = nil
        let float = CostModel(manifest: manifest)
        let perBlockInt8 = int8.cost.residentBytes[1] - int8.cost.residentBytes[0]
        let perBlockFloat = float.residentBytes[1] - float.residentBytes[0]
        #expect(Double(perBlockFloat) / Double(perBlockInt8) > 3)
    }

    /// What `memory_mb` compares: under a cap that holds exactly the float32 model's first exit,
    /// every exit of the int8 model fits.
    @Test func underTheSameCapTheInt8ModelKeepsMoreExitsResident() throws {
        let int8 = try ModelBundle(directory: FixturePaths.bundle("tiny-int8"))
        var manifest = int8.manifest
        manifest.quantization = nil
        let float = CostModel(manifest: manifest)
        let cap = float.residentBytes[0]
        #expect(float.residentBytes.filter { $0 <= cap }.count == 1)
        #expect(int8.cost.residentBytes.filter { $0 <= cap }.count == int8.cost.exits)
        let partial = try ModelBundle(directory: FixturePaths.bundle("tiny-int8"), upToExit: int8.cost.exits)
        #expect(partial.residentBytes <= cap)
    }

    @Test func anI8TensorNotListedInTheManifestIsRejected() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny-int8")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/manifest.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var q = json["quantization"] as! [String: Any]
        q["tensors"] = (q["tensors"] as! [String]).filter { $0 != "blocks.1.mlp.fc1.weight" }
        json["quantization"] = q
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        #expect(throws: EngineError.self) { _ = try ModelBundle(directory: dir) }
    }

    @Test func quantizingAnEmbeddingIsRejected() throws {
        let dir = try FixturePaths.scratchCopy(of: "tiny-int8")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/manifest.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var q = json["quantization"] as! [String: Any]
        q["tensors"] = (q["tensors"] as! [String]) + ["word_embedding"]
        json["quantization"] = q
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        #expect(throws: EngineError.badManifest("quantization.tensors: 'word_embedding' is not a weight matrix of the architecture")) {
            _ = try ModelBundle(directory: dir)
        }
    }

    @Test func anInt8RowProductEqualsTheDequantisedOne() throws {
        let scales = Tensor(shape: [5], values: [0.5, 0.25, 0, 2, 0.125])
        let q = Int8Matrix(rows: 3, cols: 5, scales: scales)
        let values: [Int8] = [1, -2, 3, 127, -127, 0, 5, -7, 9, 11, -1, 2, 100, -3, 4]
        for i in values.indices { q.values[i] = values[i] }
        let x: [Float] = [1, -0.5, 2]
        let scratch = Tensor(shape: [64])
        var y: [Float] = [1, 1, 1, 1, 1]
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { Kernels.gemv(xp.baseAddress!, .int8(q), into: $0.baseAddress!, scratch: scratch) } }
        Kernels.dequantise(q, rows: 0..<3, cols: 0..<5, into: scratch.data)
        for j in 0..<5 {
            let want = 1 + (0..<3).reduce(Float(0)) { $0 + x[$1] * scratch.data[$1 * 5 + j] }
            #expect(abs(y[j] - want) <= 1e-5 * max(1, abs(want)), "column \(j): \(y[j]) vs \(want)")
        }
        #expect(scratch.data[3] == 127 * 2 && scratch.data[2 * 5 + 2] == 0)
    }

    /// The int8 GEMMs (the engine's register-blocked one: a 16-column block and 8 leftover columns;
    /// the plain four-row one) against sgemm on the dequantised matrix, over a column slice, with
    /// a row count that leaves a remainder of 3.
    @Test(arguments: [true, false])
    func theInt8ProductEqualsSgemmOnTheDequantisedMatrix(blocked: Bool) throws {
        let rows = 7, k = 37, n = 40, cols = 16..<40
        let scales = Tensor(shape: [n], values: (0..<n).map { Float($0 % 5) * 0.01 })
        let q = Int8Matrix(rows: k, cols: n, scales: scales)
        for i in 0..<(k * n) { q.values[i] = Int8(truncatingIfNeeded: (i * 37) % 255 - 127) }
        let x = Tensor(shape: [rows, k], values: (0..<(rows * k)).map { Float(($0 * 13) % 17) / 8 - 1 })
        let got = Tensor(shape: [rows, n], values: (0..<(rows * n)).map { Float($0 % 3) })
        let want = Tensor(shape: [rows, n], values: got.toArray())
        let scratch = Tensor(shape: [4 * cols.count])
        if blocked {
            Kernels.productInt8Blocked(x.data, rows: rows, inDim: k, q, cols: cols, into: got.data, scratch: scratch)
        } else {
            Kernels.productInt8(x.data, rows: rows, inDim: k, q, cols: cols, into: got.data, scratch: scratch)
        }
        Kernels.productInt8Tiles(x.data, rows: rows, inDim: k, q, cols: cols, into: want.data,
                                 scratch: Tensor(shape: [Kernels.tileRows * Kernels.tileCols]))
        for i in 0..<(rows * n) {
            #expect(abs(got.data[i] - want.data[i]) <= 1e-4 * max(1, abs(want.data[i])), "element \(i)")
        }
        #expect(got.data[0] == 0 && got.data[n + 1] == Float((n + 1) % 3), "columns outside the slice are untouched")
    }

    /// The engine's float32 product (register-blocked: a 16-column block, then leftover columns
    /// through sgemm) against a plain triple loop in double precision.
    @Test func theBlockedFloatProductEqualsAPlainLoop() throws {
        let rows = 6, k = 19, n = 40, cols = 8..<40
        let w = Tensor(shape: [k, n], values: (0..<(k * n)).map { Float(($0 * 29) % 31) / 15 - 1 })
        let x = Tensor(shape: [rows, k], values: (0..<(rows * k)).map { Float(($0 * 13) % 17) / 8 - 1 })
        let got = Tensor(shape: [rows, n]), want = Tensor(shape: [rows, n])
        Kernels.product(x.data, rows: rows, inDim: k, .float32(w), cols: cols, into: got.data, scratch: Tensor(shape: [1]))
        for r in 0..<rows { for j in cols {
            want.data[r * n + j] = Float((0..<k).reduce(0.0) { $0 + Double(x.data[r * k + $1]) * Double(w.data[$1 * n + j]) })
        } }
        for i in 0..<(rows * n) {
            #expect(abs(got.data[i] - want.data[i]) <= 1e-4 * max(1, abs(want.data[i])), "element \(i)")
        }
    }
}
