/// Exact compute and memory per exit, from the manifest alone (docs/MODEL_FORMAT.md, "Cost model").
public struct CostModel: Sendable, Equatable {
    /// FLOPs (a multiply-add counts 2) of the embeddings, one block, and one head run.
    public let embedFLOPs: Int
    public let blockFLOPs: Int
    public let headFLOPs: Int
    /// Whole cost of a step that stops at exit i+1.
    public let exitFLOPs: [Int]
    /// Model bytes in memory needed to run up to exit i+1: float32, int8 matrices at 1 byte
    /// per weight plus their float32 scales.
    public let residentBytes: [Int]
    public let exitEvery: Int
    /// Tokens the blocks run over.
    public let tokens: Int

    public init(manifest m: BundleManifest) {
        let a = m.architecture
        let layout = TensorLayout(m)
        let d = a.width, t = layout.tokens, mlp = a.mlpHidden
        let h = a.head.lstmHidden, mh = a.head.mlpHidden
        // Every camera's patch projection, and the state's.
        let embed = layout.cameras.reduce(0) { $0 + 2 * $1.patches * $1.patchDim * d } + 2 * m.stateInput.shape[0] * d
        let block = 2 * t * d * 3 * d + 4 * t * t * d + 2 * t * d * d + 4 * t * d * mlp
        embedFLOPs = embed
        blockFLOPs = block
        var head = 2 * h * mh + 2 * mh * layout.chunkValues
        for l in 0..<a.head.lstmLayers { head += 2 * ((l == 0 ? d : h) + h) * 4 * h }
        headFLOPs = head
        exitEvery = a.exitEvery
        tokens = t
        let exits = a.blocks / a.exitEvery
        exitFLOPs = (1...exits).map { i in embed + i * a.exitEvery * block + (i + 1) * head }
        residentBytes = (1...exits).map { i in
            layout.items.filter { TensorLayout.needed($0.owner, upToExit: i, exitEvery: a.exitEvery) }
                .reduce(0) { $0 + layout.residentBytes($1) }
        }
    }

    public var exits: Int { exitFLOPs.count }
    public var exitGFLOPs: [Double] { exitFLOPs.map { Double($0) / 1e9 } }
    public var fullFLOPs: Int { exitFLOPs.last! }
}
