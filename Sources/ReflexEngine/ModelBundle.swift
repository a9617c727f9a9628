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
    let weights: [String: Tensor]

    /// Opens `directory`, reading weights for exits 1 … `upToExit` (all when nil).
    public init(directory: String, upToExit: Int? = nil) throws {
        self.directory = directory
        let manifestPath = (directory as NSString).appendingPathComponent("manifest.json")
        guard let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) || !isDir.boolValue {
                throw EngineError.missingFile("\(directory): no such bundle directory")
            }
            throw EngineError.missingFile(manifestPath)
        }
        manifest = try BundleManifest.parse(manifestData)
        cost = CostModel(manifest: manifest)
        let exits = cost.exits
        if let n = upToExit, n < 1 || n > exits {
            throw EngineError.badInput("cannot open up to exit \(n): the model has exits 1…\(exits)")
        }
        loadedExits = upToExit ?? exits

        let weightsPath = (directory as NSString).appendingPathComponent(manifest.weights)
        let file = try SafetensorsFile(path: weightsPath)
        let layout = TensorLayout(manifest)
        let expected = Set(layout.items.map(\.name))
        if let extra = file.entries.keys.sorted().first(where: { !expected.contains($0) }) {
            throw EngineError.badTensor(name: extra, message: "not part of the architecture in manifest.json")
        }
        var weights: [String: Tensor] = [:]
        for item in layout.items {
            // Check every tensor's presence and shape, read only those the opened depth needs.
            guard let entry = file.entries[item.name] else {
                throw EngineError.badTensor(name: item.name, message: "missing from \(manifest.weights)")
            }
            guard entry.shape == item.shape else {
                throw EngineError.badTensor(name: item.name, message: "shape \(entry.shape), the manifest implies \(item.shape)")
            }
            if TensorLayout.needed(item.owner, upToExit: loadedExits, exitEvery: manifest.architecture.exitEvery) {
                weights[item.name] = try file.read(item.name, shape: item.shape)
            }
        }
        self.weights = weights

        var hashed = [manifestPath, weightsPath]
        var calibration: [[Float]] = []
        if let cal = manifest.calibration {
            let calPath = (directory as NSString).appendingPathComponent(cal)
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
    public var residentBytes: Int { weights.values.reduce(0) { $0 + $1.byteCount } }

    func tensor(_ name: String) -> Tensor { weights[name]! }
}
