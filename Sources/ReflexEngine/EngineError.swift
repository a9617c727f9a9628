/// Every failure of the engine layer: bundle files, manifest, weights, inputs.
/// Messages name the file and the tensor or key, so an operator can act on them.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    /// A bundle file is missing or unreadable.
    case missingFile(String)
    /// The manifest is not valid JSON or lacks / mistypes a key.
    case badManifest(String)
    /// A safetensors file is malformed (header, offsets, truncated data).
    case badWeights(file: String, message: String)
    /// A tensor the manifest implies is absent, or has the wrong shape or dtype.
    case badTensor(name: String, message: String)
    /// An input handed to `step` does not match the model's inputs.
    case badInput(String)

    public var description: String {
        switch self {
        case .missingFile(let m): return "missing file: \(m)"
        case .badManifest(let m): return "bad manifest: \(m)"
        case .badWeights(let f, let m): return "\(f): \(m)"
        case .badTensor(let n, let m): return "tensor '\(n)': \(m)"
        case .badInput(let m): return "bad input: \(m)"
        }
    }
}
