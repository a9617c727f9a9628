import Foundation

/// A model bundle directory opened up to some exit: manifest, weights read into memory,
/// calibration data. Layers past the opened depth are never read.
public final class ModelBundle: @unchecked Sendable {
    public let directory: String
    public let manifest: BundleManifest
    public let cost: CostModel
    /// How many exits are loaded (1 … exits).
    public let loadedExits: Int
    /// SHA-256 of manifest.json, the weights file and the calibration file, concatenated in that order
    /// (`cat manifest.json weights.safetensors calibration.safetensors | sha256sum`).
    public let sha256: String
    /// Per-exit distances of held-out samples: `[N][exits]`, empty when the bundle has none.
    public let calibration: [[Float]]
    /// How many of the architecture's tensors each storage dtype holds (`"F32"`, `"BF16"`, `"I8"`, …),
    /// int8 scales not counted.
    public let storedDTypes: [String: Int]
    /// Tensors other than weight matrices (biases, norms, embeddings), float32.
    let weights: [String: Tensor]
    /// Weight matrices, float32 or int8 as stored.
    let matrices: [String: WeightMatrix]

    /// Opens `directory`, reading weights for exits 1 … `upToExit` (all when nil).
    public init(directory: String, upToExit: Int? = nil) throws {
        self.directory = directory
        // Held open for the whole load: a bundle swapped in meanwhile is not mixed with this one.
        let bundleDirectory = try BundleDirectory(directory)
        let manifestPath = try bundleDirectory.readPath("manifest.json")
        guard let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            throw EngineError.missingFile(bundleDirectory.displayPath("manifest.json"))
        }
        manifest = try BundleManifest.parse(manifestData)
        cost = CostModel(manifest: manifest)
        let exits = cost.exits
        if let n = upToExit, n < 1 || n > exits {
            throw EngineError.badInput("cannot open up to exit \(n): the model has exits 1…\(exits)")
        }
        loadedExits = upToExit ?? exits

        let weightsPath = try bundleDirectory.readPath(manifest.weights)
        let file = try SafetensorsFile(path: weightsPath)
        let layout = TensorLayout(manifest)
        let quantized = layout.quantized
        let matrixNames = Set(layout.items.filter(\.isMatrix).map(\.name))
        if let bad = quantized.sorted().first(where: { !matrixNames.contains($0) }) {
            throw EngineError.badManifest("quantization.tensors: '\(bad)' is not a weight matrix of the architecture")
        }
        let expected = Set(layout.items.map(\.name)).union(quantized.map { $0 + ".scale" })
        if let extra = file.entries.keys.sorted().first(where: { !expected.contains($0) }) {
            throw EngineError.badTensor(name: extra, message: "not part of the architecture in manifest.json")
        }
        var weights: [String: Tensor] = [:], matrices: [String: WeightMatrix] = [:], dtypes: [String: Int] = [:]
        for item in layout.items {
            // Check every tensor's presence, shape and dtype; read only those the opened depth needs.
            guard let entry = file.entries[item.name] else {
                throw EngineError.badTensor(name: item.name, message: "missing from \(manifest.weights)")
            }
            guard entry.shape == item.shape else {
                throw EngineError.badTensor(name: item.name, message: "shape \(entry.shape), the manifest implies \(item.shape)")
            }
            let isInt8 = quantized.contains(item.name)
            guard isInt8 == (entry.dtype == .i8) else {
                throw EngineError.badTensor(name: item.name, message: isInt8
                    ? "is \(entry.dtype.rawValue), but manifest quantization.tensors lists it as int8 (I8)"
                    : "is I8 but not listed in manifest quantization.tensors")
            }
            if isInt8 {
                guard let s = file.entries[item.name + ".scale"], s.dtype == .f32, s.shape == [item.shape[1]] else {
                    throw EngineError.badTensor(name: item.name + ".scale", message: "must be F32 [\(item.shape[1])] (one scale per output column)")
                }
            }
            dtypes[entry.dtype.rawValue, default: 0] += 1
            guard TensorLayout.needed(item.owner, upToExit: loadedExits, exitEvery: manifest.architecture.exitEvery) else { continue }
            if isInt8 {
                let scales = try file.read(item.name + ".scale", shape: [item.shape[1]])
                guard scales.buffer.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                    throw EngineError.badTensor(name: item.name + ".scale", message: "scales must be finite and ≥ 0")
                }
                let q = Int8Matrix(rows: item.shape[0], cols: item.shape[1], scales: scales)
                try file.readInt8(item.name, into: q)
                matrices[item.name] = .int8(q)
            } else if item.isMatrix {
                // Packed once here into the panels the GEMM kernel streams (same bytes).
                let t = try file.read(item.name, shape: item.shape)
                matrices[item.name] = item.shape[1] % 16 == 0 ? .float32Panels(Kernels.packPanels(t)) : .float32(t)
            } else {
                weights[item.name] = try file.read(item.name, shape: item.shape)
            }
        }
        self.matrices = matrices
        storedDTypes = dtypes
        self.weights = weights

        var hashed = [manifestPath, weightsPath]
        var calibration: [[Float]] = []
        if let cal = manifest.calibration {
            let calPath = try bundleDirectory.readPath(cal)
            let calFile = try SafetensorsFile(path: calPath)
            guard let entry = calFile.entries["distances"], entry.shape.count == 2, entry.shape[1] == exits else {
                throw EngineError.badTensor(name: "distances", message: "\(cal) must hold float [N, \(exits)]")
            }
            let t = try calFile.read("distances", shape: entry.shape)
            calibration = (0..<entry.shape[0]).map { r in Array(UnsafeBufferPointer(start: t.data + r * exits, count: exits)) }
            hashed.append(calPath)
        }
        self.calibration = calibration
        sha256 = try BundleDigest.hexDigest(ofFiles: hashed)
    }

    /// Bytes of weights held in memory (measured from the buffers allocated).
    public var residentBytes: Int {
        weights.values.reduce(0) { $0 + $1.byteCount } + matrices.values.reduce(0) { $0 + $1.byteCount }
    }

    /// How the weight matrices (linear weights) are held in memory: "int8" (every one, with
    /// per-output-column float32 scales), "float32" (none int8, whatever the float storage), or "mixed".
    public var matrixDType: String {
        let int8 = matrices.values.filter(\.isInt8).count
        return int8 == 0 ? "float32" : int8 == matrices.count ? "int8" : "mixed"
    }

    /// Whether any weight matrix is held as int8.
    public var hasInt8Weights: Bool { matrices.values.contains { $0.isInt8 } }

    func tensor(_ name: String) -> Tensor { weights[name]! }
    func matrix(_ name: String) -> WeightMatrix { matrices[name]! }
}
