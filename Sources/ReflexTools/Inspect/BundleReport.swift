import Foundation
import ReflexDaemon
import ReflexEngine

/// What `reflexctl inspect` prints about a bundle (CONTRACT section 10), as JSON and as text.
public struct BundleReport {
    public let bundle: ModelBundle

    public init(directory: String) throws { bundle = try ModelBundle(directory: directory) }

    /// How the weight matrices are held in memory: "int8", "float32" or "mixed".
    var matrixDType: String { bundle.matrixDType }

    /// Resident bytes per exit of the same model held in float32 (equal to `cost.residentBytes`
    /// when nothing is int8).
    var float32ResidentBytes: [Int] {
        var m = bundle.manifest
        m.quantization = nil
        return CostModel(manifest: m).residentBytes
    }

    /// `action`: dtype, shape (`[A]`, or `[H, A]` for a chunk), bounds; `chunk` and `period_s` when H > 1.
    var actionObject: [String: Any] {
        let m = bundle.manifest
        var action: [String: Any] = ["dtype": "float32", "shape": m.actionShape, "low": m.action.low, "high": m.action.high]
        if m.chunk > 1 {
            action["chunk"] = m.chunk
            action["period_s"] = m.action.periodS ?? NSNull()
        }
        return action
    }

    public var json: [String: Any] {
        let m = bundle.manifest, c = bundle.cost
        return [
            "name": m.name,
            "directory": bundle.directory,
            "sha256": bundle.sha256,
            "inputs": m.inputs.map { ["name": $0.name, "dtype": $0.dtype, "shape": $0.shape] as [String: Any] },
            "format_version": m.formatVersion,
            "action": actionObject,
            "exits": (0..<c.exits).map { i in
                ["index": i + 1, "gflops": c.exitGFLOPs[i], "resident_bytes": c.residentBytes[i],
                 "resident_bytes_float32": float32ResidentBytes[i], "blocks": (i + 1) * c.exitEvery] as [String: Any]
            },
            "weights": [
                "matrices": matrixDType, "stored_dtypes": bundle.storedDTypes,
                "int8_tensors": m.quantization?.tensors.count ?? 0,
            ] as [String: Any],
            "vocabulary_size": m.vocabulary.words.count,
            "instruction_tokens": m.architecture.instructionTokens,
            "architecture": [
                "width": m.architecture.width, "heads": m.architecture.heads, "mlp_hidden": m.architecture.mlpHidden,
                "blocks": m.architecture.blocks, "exit_every": m.architecture.exitEvery,
                "patch_size": m.architecture.patchSize, "pool": m.architecture.pool.rawValue,
                "lstm_hidden": m.architecture.head.lstmHidden, "lstm_layers": m.architecture.head.lstmLayers,
            ] as [String: Any],
            "criterion": ["distance": m.criterion.distance, "dims": m.criterion.dims, "first_actions": m.criterionActions] as [String: Any],
            "calibration_samples": bundle.calibration.count,
            "resident_bytes_measured": bundle.residentBytes,
            "observation": m.observation?.foundationObject ?? NSNull(),
        ]
    }

    public var jsonString: String {
        let data = try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// The bundle's `observation` (how its inputs were made: simulator, cameras, image sizes, flip,
    /// state fields, request period…), one line per key in key order, each value as compact JSON:
    /// what a user must reproduce on the robot, printed in full.
    var observationText: String {
        guard case .object(let fields)? = bundle.manifest.observation else {
            return "observation: not described (the bundle does not say how its inputs were made)\n"
        }
        var s = "observation:\n"
        for key in fields.keys.sorted() {
            let data = try! JSONSerialization.data(withJSONObject: fields[key]!.foundationObject,
                                                   options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
            s += "  \(key): \(String(decoding: data, as: UTF8.self))\n"
        }
        return s
    }

    public var text: String {
        let m = bundle.manifest, c = bundle.cost
        var s = "model \(m.name)  sha256 \(bundle.sha256.prefix(16))…\n"
        s += "inputs: " + m.inputs.map { "\($0.name) \($0.dtype)\($0.shape)" }.joined(separator: ", ") + "\n"
        s += "action: float32\(m.actionShape) in [\(m.action.low.map { "\($0)" }.joined(separator: ", "))] … [\(m.action.high.map { "\($0)" }.joined(separator: ", "))]\n"
        if m.chunk > 1 {
            s += "action.chunk: \(m.chunk)  action.period_s: \(m.action.periodS.map { "\($0)" } ?? "?")  criterion over the first \(m.criterionActions) actions\n"
        }
        s += "vocabulary: \(m.vocabulary.words.count) words, \(m.architecture.instructionTokens) instruction tokens\n"
        s += "calibration: \(bundle.calibration.count) samples\n"
        s += observationText
        let stored = bundle.storedDTypes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        s += "weights: matrices held as \(matrixDType)\(matrixDType == "float32" ? "" : " (per-output-column float32 scales)"); stored: \(stored) tensors\n"
        let f32 = float32ResidentBytes
        s += "exit  blocks  GFLOPs    fraction  resident    (as float32)\n"
        for i in 0..<c.exits {
            s += String(format: "%4d  %6d  %8.4f  %8.3f  %6.2f MiB  %6.2f MiB\n", i + 1, (i + 1) * c.exitEvery, c.exitGFLOPs[i],
                        c.exitGFLOPs[i] / c.exitGFLOPs.last!, Double(c.residentBytes[i]) / 1_048_576, Double(f32[i]) / 1_048_576)
        }
        return s
    }
}
