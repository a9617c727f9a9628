/// The tensors a manifest implies, with their shapes and which part of the network owns them.
/// The loader reads from it and the cost model sums resident bytes from it: one list, two uses.
struct TensorLayout {
    enum Owner: Equatable { case shared, block(Int), exitNorm(Int) }
    /// `isMatrix`: a linear layer's weight `[in, out]`, which a bundle may store as int8.
    struct Item { let name: String; let shape: [Int]; let owner: Owner; var isMatrix = false }
    /// One camera's patches: where its tokens start and its projection's tensor names.
    struct Camera {
        let name: String
        let shape: [Int]          // [H, W, C]
        let patches: Int          // (H/p)·(W/p)
        let patchDim: Int         // p·p·C
        let firstToken: Int       // index of its first patch token
        let projection: String    // "patch_proj" (format 1) or "patch_proj.<c>"
    }

    let items: [Item]
    /// Names of the matrices stored as int8 (manifest `quantization.tensors`).
    let quantized: Set<String>
    let tokens: Int
    let cameras: [Camera]
    /// Patches of every camera together.
    let patches: Int
    /// Values of one action chunk: H·A.
    let chunkValues: Int

    init(_ m: BundleManifest) {
        let a = m.architecture
        let d = a.width, p = a.patchSize
        let stateDim = m.stateInput.shape[0]
        var cameras: [Camera] = []
        var next = 1 + a.instructionTokens
        for (c, input) in m.cameras.enumerated() {
            let n = (input.shape[0] / p) * (input.shape[1] / p)
            cameras.append(Camera(name: input.name, shape: input.shape, patches: n, patchDim: p * p * input.shape[2],
                                  firstToken: next, projection: m.formatVersion == 1 ? "patch_proj" : "patch_proj.\(c)"))
            next += n
        }
        self.cameras = cameras
        patches = next - 1 - a.instructionTokens
        tokens = next + (a.pool == .readout ? 1 : 0)
        chunkValues = m.chunk * m.action.dim
        let h = a.head.lstmHidden, mh = a.head.mlpHidden
        var items: [Item] = cameras.flatMap { cam -> [Item] in
            [.init(name: cam.projection + ".weight", shape: [cam.patchDim, d], owner: .shared, isMatrix: true),
             .init(name: cam.projection + ".bias", shape: [d], owner: .shared)]
        }
        items += [
            .init(name: "state_proj.weight", shape: [stateDim, d], owner: .shared, isMatrix: true),
            .init(name: "state_proj.bias", shape: [d], owner: .shared),
            .init(name: "word_embedding", shape: [m.vocabulary.words.count, d], owner: .shared),
            .init(name: "pos_embedding", shape: [tokens, d], owner: .shared),
        ]
        if a.pool == .readout { items.append(.init(name: "readout_token", shape: [d], owner: .shared)) }
        for b in 0..<a.blocks {
            let pre = "blocks.\(b)."
            for (n, s) in [("ln1.weight", [d]), ("ln1.bias", [d]), ("attn.qkv.weight", [d, 3 * d]), ("attn.qkv.bias", [3 * d]),
                           ("attn.out.weight", [d, d]), ("attn.out.bias", [d]), ("ln2.weight", [d]), ("ln2.bias", [d]),
                           ("mlp.fc1.weight", [d, a.mlpHidden]), ("mlp.fc1.bias", [a.mlpHidden]),
                           ("mlp.fc2.weight", [a.mlpHidden, d]), ("mlp.fc2.bias", [d])] {
                items.append(.init(name: pre + n, shape: s, owner: .block(b), isMatrix: s.count == 2))
            }
        }
        for i in 0...(a.blocks / a.exitEvery) {
            items.append(.init(name: "exit_norms.\(i).weight", shape: [d], owner: .exitNorm(i)))
            items.append(.init(name: "exit_norms.\(i).bias", shape: [d], owner: .exitNorm(i)))
        }
        for l in 0..<a.head.lstmLayers {
            items.append(.init(name: "head.lstm.\(l).weight_ih", shape: [l == 0 ? d : h, 4 * h], owner: .shared, isMatrix: true))
            items.append(.init(name: "head.lstm.\(l).weight_hh", shape: [h, 4 * h], owner: .shared, isMatrix: true))
            items.append(.init(name: "head.lstm.\(l).bias", shape: [4 * h], owner: .shared))
        }
        items += [
            .init(name: "head.mlp.fc1.weight", shape: [h, mh], owner: .shared, isMatrix: true),
            .init(name: "head.mlp.fc1.bias", shape: [mh], owner: .shared),
            .init(name: "head.mlp.fc2.weight", shape: [mh, chunkValues], owner: .shared, isMatrix: true),
            .init(name: "head.mlp.fc2.bias", shape: [chunkValues], owner: .shared),
        ]
        self.items = items
        quantized = Set(m.quantization?.tensors ?? [])
    }

    /// Bytes a tensor holds in memory: 4 per element, or for an int8 matrix 1 per element plus
    /// 4 per output column (its scales).
    func residentBytes(_ item: Item) -> Int {
        let elements = item.shape.reduce(1, *)
        return quantized.contains(item.name) ? elements + 4 * item.shape[1] : 4 * elements
    }

    /// Whether a tensor is needed to run up to `exit` (1-based) with `exitEvery` blocks per exit.
    static func needed(_ owner: Owner, upToExit exit: Int, exitEvery k: Int) -> Bool {
        switch owner {
        case .shared: return true
        case .block(let b): return b < exit * k
        case .exitNorm(let i): return i <= exit
        }
    }
}
