import Foundation

/// `manifest.json` of a model bundle (docs/MODEL_FORMAT.md).
public struct BundleManifest: Codable, Sendable {
    public struct Head: Codable, Sendable {
        public var lstmHidden: Int
        public var lstmLayers: Int
        public var mlpHidden: Int
        enum CodingKeys: String, CodingKey { case lstmHidden = "lstm_hidden", lstmLayers = "lstm_layers", mlpHidden = "mlp_hidden" }
    }

    public struct Architecture: Codable, Sendable {
        public var width: Int
        public var heads: Int
        public var mlpHidden: Int
        public var blocks: Int
        public var exitEvery: Int
        public var patchSize: Int
        public var instructionTokens: Int
        public var pool: Pool
        public var normEps: Float
        public var head: Head
        enum CodingKeys: String, CodingKey {
            case width, heads, blocks, pool, head
            case mlpHidden = "mlp_hidden", exitEvery = "exit_every", patchSize = "patch_size"
            case instructionTokens = "instruction_tokens", normEps = "norm_eps"
        }
    }

    public enum Pool: String, Codable, Sendable { case max, readout }

    public struct Input: Codable, Sendable, Equatable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
    }

    public struct Normalisation: Codable, Sendable {
        public var mean: [Float]
        public var std: [Float]
    }

    public struct Action: Codable, Sendable {
        public var dim: Int
        public var low: [Float]
        public var high: [Float]
        public var mean: [Float]
        public var std: [Float]
        /// H: actions a step returns, one per control period (format 2; absent = 1).
        public var chunk: Int?
        /// The control period the chunk was trained at, seconds (format 2; required when H > 1).
        public var periodS: Double?
        enum CodingKeys: String, CodingKey { case dim, low, high, mean, std, chunk, periodS = "period_s" }
    }

    public struct Criterion: Codable, Sendable {
        public var distance: String
        public var dims: [Int]
        /// K: how many leading actions of the chunk the exit criterion compares (format 2; absent = 1).
        public var firstActions: Int?
        enum CodingKeys: String, CodingKey { case distance, dims, firstActions = "first_actions" }
    }

    public struct Vocabulary: Codable, Sendable {
        public var words: [String]
        public var pad: String
        public var unknown: String
    }

    /// Weight matrices stored as int8 with one float32 scale per output column: tensor `name`
    /// is `I8 [in, out]` and `name.scale` is `F32 [out]`; the weight is `q[i, j] · scale[j]`.
    public struct Quantization: Codable, Sendable {
        /// "int8" (the only one).
        public var dtype: String
        /// Names of the quantised matrices (linear weights only, not embeddings).
        public var tensors: [String]
    }

    public var format: String
    public var formatVersion: Int
    public var name: String
    public var weights: String
    public var calibration: String?
    public var architecture: Architecture
    public var inputs: [Input]
    public var stateNorm: Normalisation
    public var action: Action
    public var criterion: Criterion
    public var vocabulary: Vocabulary
    /// Free-form description of how observations were made; printed by `reflexctl inspect` as it is.
    public var observation: JSONValue?
    /// Absent: every tensor is stored as floats.
    public var quantization: Quantization?

    enum CodingKeys: String, CodingKey {
        case format, name, weights, calibration, architecture, inputs, action, criterion, vocabulary, observation, quantization
        case formatVersion = "format_version", stateNorm = "state_norm"
    }

    /// Parses and checks a manifest; every problem is an `EngineError.badManifest` naming the key.
    public static func parse(_ data: Data) throws -> BundleManifest {
        let m: BundleManifest
        do { m = try JSONDecoder().decode(BundleManifest.self, from: data) } catch let e as DecodingError {
            throw EngineError.badManifest(Self.describe(e))
        } catch { throw EngineError.badManifest("\(error)") }
        try m.validate()
        return m
    }

    /// The camera inputs (uint8 `[H, W, C]`), in the manifest's order: every input but `state`.
    public var cameras: [Input] { inputs.filter { $0.name != "state" } }
    /// The float32 `[D]` input `state`.
    public var stateInput: Input { inputs.first { $0.name == "state" }! }
    /// H: actions per step (1 in format 1).
    public var chunk: Int { action.chunk ?? 1 }
    /// K: leading actions of the chunk the exit criterion compares (1 in format 1).
    public var criterionActions: Int { criterion.firstActions ?? 1 }
    /// The shape of a step's action tensor: `[A]` when H = 1, `[H, A]` otherwise.
    public var actionShape: [Int] { chunk == 1 ? [action.dim] : [chunk, action.dim] }

    func validate() throws {
        func fail(_ s: String) -> EngineError { .badManifest(s) }
        guard format == "reflex.bundle" else { throw fail("format is '\(format)', expected 'reflex.bundle'") }
        guard formatVersion == 1 || formatVersion == 2 else { throw fail("format_version \(formatVersion) is not supported (1, 2)") }
        // Files are named, not pathed: a manifest must not make the daemon read outside its bundle.
        for (key, file) in [("weights", weights), ("calibration", calibration)] {
            guard let file else { continue }
            guard !file.isEmpty, !file.contains("/"), file != ".", file != ".." else {
                throw fail("\(key) must be a file name inside the bundle directory, is '\(file)'")
            }
        }
        let a = architecture
        for (k, v) in [("width", a.width), ("heads", a.heads), ("mlp_hidden", a.mlpHidden), ("blocks", a.blocks),
                       ("exit_every", a.exitEvery), ("patch_size", a.patchSize), ("head.lstm_hidden", a.head.lstmHidden),
                       ("head.lstm_layers", a.head.lstmLayers), ("head.mlp_hidden", a.head.mlpHidden)] where v <= 0 || v > 1 << 20 {
            throw fail("architecture.\(k) must be a positive integer, is \(v)")
        }
        guard a.instructionTokens >= 0 else { throw fail("architecture.instruction_tokens must be ≥ 0") }
        guard a.width % a.heads == 0 else { throw fail("architecture.width \(a.width) is not a multiple of heads \(a.heads)") }
        guard a.blocks % a.exitEvery == 0 else { throw fail("architecture.blocks \(a.blocks) is not a multiple of exit_every \(a.exitEvery)") }
        guard a.normEps > 0 else { throw fail("architecture.norm_eps must be > 0") }
        if formatVersion == 1 {
            guard inputs.count == 2, inputs.contains(where: { $0.name == "image" }), inputs.contains(where: { $0.name == "state" }) else {
                throw fail("inputs must be exactly 'image' and 'state' (format_version 1)")
            }
            guard chunk == 1, criterionActions == 1 else { throw fail("action.chunk and criterion.first_actions need format_version 2") }
        }
        guard Set(inputs.map(\.name)).count == inputs.count, let st = inputs.first(where: { $0.name == "state" }) else {
            throw fail("inputs must have unique names, one of them 'state'")
        }
        guard !cameras.isEmpty else { throw fail("inputs must include at least one camera (uint8 [H, W, C])") }
        for img in cameras {
            guard (1...64).contains(img.name.utf8.count),
                  img.name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw fail("inputs: camera name '\(img.name)' must be 1–64 characters of A-Z a-z 0-9 _")
            }
            guard img.dtype == "uint8", img.shape.count == 3, img.shape.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }),
                  img.shape[0] % a.patchSize == 0, img.shape[1] % a.patchSize == 0 else {
                throw fail("inputs.\(img.name) must be uint8 [H, W, C] with H and W multiples of patch_size \(a.patchSize), is \(img.dtype) \(img.shape)")
            }
        }
        guard st.dtype == "float32", st.shape.count == 1, st.shape[0] > 0 else {
            throw fail("inputs.state must be float32 [D], is \(st.dtype) \(st.shape)")
        }
        let d = st.shape[0]
        guard stateNorm.mean.count == d, stateNorm.std.count == d else { throw fail("state_norm.mean and .std must have \(d) values") }
        guard stateNorm.std.allSatisfy({ $0 > 0 }) else { throw fail("state_norm.std must be > 0") }
        let ad = action.dim
        guard ad > 0, action.low.count == ad, action.high.count == ad, action.mean.count == ad, action.std.count == ad else {
            throw fail("action.low/high/mean/std must each have dim = \(ad) values")
        }
        guard zip(action.low, action.high).allSatisfy({ $0 <= $1 }) else { throw fail("action.low must be ≤ action.high") }
        guard (1...4096).contains(chunk) else { throw fail("action.chunk must be an integer in 1 … 4096, is \(chunk)") }
        guard (1...chunk).contains(criterionActions) else {
            throw fail("criterion.first_actions must be in 1 … action.chunk (\(chunk)), is \(criterionActions)")
        }
        if let period = action.periodS {
            guard period > 0, period.isFinite else { throw fail("action.period_s must be > 0 seconds, is \(period)") }
        } else if chunk > 1 {
            throw fail("action.period_s (seconds) is required when action.chunk > 1")
        }
        guard criterion.distance == "rms" else { throw fail("criterion.distance '\(criterion.distance)' is not supported (rms)") }
        guard !criterion.dims.isEmpty, criterion.dims.allSatisfy({ $0 >= 0 && $0 < ad }) else {
            throw fail("criterion.dims must be non-empty indices below action.dim \(ad)")
        }
        guard vocabulary.words.contains(vocabulary.pad), vocabulary.words.contains(vocabulary.unknown) else {
            throw fail("vocabulary.words must contain the pad word '\(vocabulary.pad)' and the unknown word '\(vocabulary.unknown)'")
        }
        if let q = quantization {
            guard q.dtype == "int8" else { throw fail("quantization.dtype '\(q.dtype)' is not supported (int8)") }
            guard Set(q.tensors).count == q.tensors.count else { throw fail("quantization.tensors names a tensor twice") }
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String {
            c.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch e {
        case .keyNotFound(let k, let ctx): return "missing key '\(path(ctx.codingPath + [k]))'"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx): return "'\(path(ctx.codingPath))': \(ctx.debugDescription)"
        case .dataCorrupted(let ctx): return ctx.codingPath.isEmpty ? "not valid JSON" : "'\(path(ctx.codingPath))': \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
