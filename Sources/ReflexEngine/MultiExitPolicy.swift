import COpenBLAS
import ReflexKernelsAVX512

/// The multi-exit network of a bundle, run step by step (docs/MODEL_FORMAT.md): embeddings,
/// then block segments exit by exit, asking a stop rule after each. No I/O, no clocks.
public final class MultiExitPolicy: @unchecked Sendable {
    public let bundle: ModelBundle
    public let tokenizer: InstructionTokenizer
    public var manifest: BundleManifest { bundle.manifest }
    public var cost: CostModel { bundle.cost }
    /// Deepest exit loaded; the step always stops there.
    public var loadedExits: Int { bundle.loadedExits }

    private struct Block {
        let ln1w, ln1b, qkvB, outB, ln2w, ln2b, fc1B, fc2B: Tensor
        let qkvW, outW, fc1W, fc2W: WeightMatrix
    }
    private struct LSTMLayer { let wih, whh: WeightMatrix; let bias: Tensor }

    /// A camera's token layout and its patch projection.
    private struct Camera { let layout: TensorLayout.Camera; let weight: WeightMatrix; let bias: Tensor; let bytes: Int }

    private let d, heads, mlpHidden, tokens, slots, exitEvery: Int
    private let cameras: [Camera]
    private let stateDim, actionDim, lstmHidden: Int
    /// H, K and H·A: the chunk, the actions the criterion compares, the values of one chunk.
    private let chunk, criterionActions, chunkValues: Int
    private let eps: Float
    private let pool: BundleManifest.Pool
    private let stateW: WeightMatrix
    private let stateB, wordEmb, posEmb: Tensor
    private let readout: Tensor?
    private let blocks: [Block]
    private let exitNorms: [(Tensor, Tensor)]
    private let lstm: [LSTMLayer]
    private let hfc1W, hfc2W: WeightMatrix
    private let hfc1B, hfc2B: Tensor
    /// Per-thread scratch floats of the products (`Kernels.productScratch`).
    private let productScratch: Int
    private let stateMean, stateInvStd, actMean, actStd, actLow, actHigh: [Float]
    private let criterionDims: [Int]

    /// BLAS runs single-threaded: the engine splits a step across threads itself (ComputePool).
    private static let singleThreadedBLAS: Void = openblas_set_num_threads(1)

    public init(bundle: ModelBundle) {
        _ = Self.singleThreadedBLAS
        self.bundle = bundle
        let m = bundle.manifest, a = m.architecture
        let layout = TensorLayout(m)
        tokenizer = InstructionTokenizer(vocabulary: m.vocabulary, slots: a.instructionTokens)
        d = a.width; heads = a.heads; mlpHidden = a.mlpHidden; tokens = layout.tokens
        slots = a.instructionTokens
        exitEvery = a.exitEvery; stateDim = m.stateInput.shape[0]
        actionDim = m.action.dim; lstmHidden = a.head.lstmHidden; eps = a.normEps; pool = a.pool
        chunk = m.chunk; criterionActions = m.criterionActions; chunkValues = layout.chunkValues
        let w = bundle.tensor, mat = bundle.matrix
        cameras = layout.cameras.map {
            Camera(layout: $0, weight: mat($0.projection + ".weight"), bias: w($0.projection + ".bias"), bytes: $0.shape.reduce(1, *))
        }
        stateW = mat("state_proj.weight"); stateB = w("state_proj.bias")
        wordEmb = w("word_embedding"); posEmb = w("pos_embedding")
        readout = a.pool == .readout ? w("readout_token") : nil
        blocks = (0..<(bundle.loadedExits * a.exitEvery)).map { b in
            let p = "blocks.\(b)."
            return Block(ln1w: w(p + "ln1.weight"), ln1b: w(p + "ln1.bias"), qkvB: w(p + "attn.qkv.bias"),
                         outB: w(p + "attn.out.bias"), ln2w: w(p + "ln2.weight"), ln2b: w(p + "ln2.bias"),
                         fc1B: w(p + "mlp.fc1.bias"), fc2B: w(p + "mlp.fc2.bias"),
                         qkvW: mat(p + "attn.qkv.weight"), outW: mat(p + "attn.out.weight"),
                         fc1W: mat(p + "mlp.fc1.weight"), fc2W: mat(p + "mlp.fc2.weight"))
        }
        exitNorms = (0...bundle.loadedExits).map { (w("exit_norms.\($0).weight"), w("exit_norms.\($0).bias")) }
        lstm = (0..<a.head.lstmLayers).map {
            LSTMLayer(wih: mat("head.lstm.\($0).weight_ih"), whh: mat("head.lstm.\($0).weight_hh"), bias: w("head.lstm.\($0).bias"))
        }
        hfc1W = mat("head.mlp.fc1.weight"); hfc1B = w("head.mlp.fc1.bias")
        hfc2W = mat("head.mlp.fc2.weight"); hfc2B = w("head.mlp.fc2.bias")
        // Per-thread product scratch: int8 accumulator rows as wide as the widest matrix, and the K-blocked kernel's accumulators.
        let widest = ([stateW, hfc1W, hfc2W] + lstm.flatMap { [$0.wih, $0.whh] } + cameras.map(\.weight)
                      + blocks.flatMap { [$0.qkvW, $0.outW, $0.fc1W, $0.fc2W] }).map(\.cols).max()!
        productScratch = Kernels.productScratch(rows: tokens, widestOut: widest, int8: bundle.hasInt8Weights)
        stateMean = m.stateNorm.mean; stateInvStd = m.stateNorm.std.map { 1 / $0 }
        actMean = m.action.mean; actStd = m.action.std; actLow = m.action.low; actHigh = m.action.high
        criterionDims = m.criterion.dims
    }

    /// Buffers and threads for stepping this model; `threads` is `engine.threads`.
    public func makeWorkspace(threads: Int = 1) -> StepWorkspace {
        StepWorkspace(tokens: tokens, width: d, mlp: mlpHidden,
                      patchValues: cameras.map { $0.layout.patches * $0.layout.patchDim }.max()!,
                      lstmHidden: lstmHidden, lstmLayers: lstm.count, headMLP: hfc1W.cols, actionValues: chunkValues,
                      stateDim: stateDim, productScratch: productScratch, threads: threads)
    }

    /// The shape of a step's action tensor: `[A]` when H = 1, `[H, A]` otherwise.
    public var actionShape: [Int] { manifest.actionShape }

    public func makeState() -> RecurrentState { RecurrentState(layers: lstm.count, hidden: lstmHidden) }

    public func makeOutput() -> StepOutput { StepOutput(actionValues: chunkValues, exits: cost.exits) }

    /// Runs one control step: embeddings, then exit by exit until `rule` says stop or the
    /// deepest loaded exit is reached; commits the chosen exit's recurrent state. The action
    /// chunk (H·A values, row-major [H, A]) goes to `out.action`. Allocates nothing.
    /// Throws `EngineError.badInput` when the observation, state or output does not fit the model.
    public func step<R: StopRule>(_ obs: Observation, state: inout RecurrentState, rule: inout R,
                                  workspace ws: StepWorkspace, output out: inout StepOutput) throws {
        guard obs.images.count == cameras.count else {
            throw EngineError.badInput("\(obs.images.count) image(s), the model has \(cameras.count) camera(s) (\(cameras.map(\.layout.name)))")
        }
        for (image, camera) in zip(obs.images, cameras) where image.count != camera.bytes {
            throw EngineError.badInput("\(camera.layout.name) has \(image.count) bytes, expected \(camera.bytes) (\(camera.layout.shape))")
        }
        guard obs.state.count == stateDim * 4 else { throw EngineError.badInput("state has \(obs.state.count) bytes, expected \(stateDim * 4)") }
        guard obs.words.count == slots else { throw EngineError.badInput("\(obs.words.count) word ids, expected \(slots)") }
        guard state.layers == lstm.count, state.hidden == lstmHidden else { throw EngineError.badInput("recurrent state has the wrong size") }
        guard out.action.count == chunkValues, out.distances.count == cost.exits else { throw EngineError.badInput("output was made for another model") }

        embed(obs, ws)
        recurrentGates(state: state, ws: ws)
        var cur = 0  // index of the current feature/action slot; 1 - cur is the previous one
        if exitEvery == 1 { poolFeature(ws, norm: 0, into: ws.features[0]) }
        for i in out.distances.indices { out.distances[i] = 0 }
        let last = loadedExits
        for exit in 1...last {
            for b in ((exit - 1) * exitEvery)..<(exit * exitEvery) {
                runBlock(blocks[b], ws)
                if b == 0 && exitEvery > 1 { poolFeature(ws, norm: 0, into: ws.features[0]) }
            }
            if exit == 1 {
                // The reference read ("exit 0"): a tentative head run whose state is never kept.
                headRun(feature: ws.features[0], state: state, ws: ws, into: ws.actions[0])
            }
            let next = 1 - cur
            poolFeature(ws, norm: exit, into: ws.features[next])
            headRun(feature: ws.features[next], state: state, ws: ws, into: ws.actions[next])
            let distance = rms(ws.actions[next], ws.actions[cur])
            out.distances[exit - 1] = distance
            let spent = cost.exitFLOPs[exit - 1]
            let point = ExitPoint(
                exit: exit, isLast: exit == last, distance: distance, spentFLOPs: spent,
                nextSegmentFLOPs: exit == last ? 0 : cost.exitFLOPs[exit] - spent,
                action: UnsafeBufferPointer(ws.actions[next].buffer), previousAction: UnsafeBufferPointer(ws.actions[cur].buffer),
                feature: UnsafeBufferPointer(ws.features[next].buffer), previousFeature: UnsafeBufferPointer(ws.features[cur].buffer))
            let stop = rule.shouldStop(at: point)
            cur = next
            if stop || exit == last {
                out.exit = exit
                out.flops = spent
                out.stoppedByRule = stop
                for j in 0..<chunkValues { out.action[j] = ws.actions[cur].data[j] }
                // Commit: the state the head produced at the chosen exit (identical to a re-run).
                for j in 0..<(lstm.count * lstmHidden) { state.h[j] = ws.candidateH.data[j]; state.c[j] = ws.candidateC.data[j] }
                return
            }
        }
    }

    // MARK: - Stages

    private func embed(_ obs: Observation, _ ws: StepWorkspace) {
        let x = ws.x.data
        // State token.
        for j in 0..<d { x[j] = stateB.data[j] }
        for i in 0..<stateDim {
            ws.stateInput.data[i] = (obs.state.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) - stateMean[i]) * stateInvStd[i]
        }
        Kernels.gemv(ws.stateInput.data, stateW, into: x, scratch: ws.scratch[0])
        // Word tokens.
        for (k, id) in obs.words.enumerated() {
            let vocab = wordEmb.shape[0]
            let row = Int(id) >= 0 && Int(id) < vocab ? Int(id) : 0
            (x + (1 + k) * d).update(from: wordEmb.data + row * d, count: d)
        }
        // Each camera's patches: gather to [P, p·p·C] in (i, j, ch) order, scaled to [-1, 1], then
        // one GEMM with that camera's projection into its tokens.
        let p = manifest.architecture.patchSize
        let scale: Float = 2.0 / 255.0
        for (camera, image) in zip(cameras, obs.images) {
            let cam = camera.layout
            let w = cam.shape[1], c = cam.shape[2], gridW = w / p
            let img = image.bindMemory(to: UInt8.self).baseAddress!
            for patch in 0..<cam.patches {
                let r0 = (patch / gridW) * p, c0 = (patch % gridW) * p
                var dst = ws.patches.data + patch * cam.patchDim
                for i in 0..<p {
                    let src = img + ((r0 + i) * w + c0) * c
                    for k in 0..<(p * c) { dst[k] = Float(src[k]) * scale - 1 }
                    dst += p * c
                }
            }
            Kernels.linear(ws.patches.data, rows: cam.patches, inDim: cam.patchDim, camera.weight, camera.bias,
                           into: x + cam.firstToken * d, pool: ws.pool, scratch: ws.scratch)
        }
        if let r = readout { (x + (tokens - 1) * d).update(from: r.data, count: d) }
        for i in 0..<(tokens * d) { x[i] += posEmb.data[i] }
    }

    private func runBlock(_ blk: Block, _ ws: StepWorkspace) {
        let t = tokens, x = ws.x.data, h = ws.normed.data, qkv = ws.qkv.data, pool = ws.pool
        let dh = d / heads
        Kernels.layerNorm(x, rows: t, d: d, gamma: blk.ln1w, beta: blk.ln1b, eps: eps, into: h, pool: pool)
        Kernels.linear(h, rows: t, inDim: d, blk.qkvW, blk.qkvB, into: qkv, pool: pool, scratch: ws.scratch)
        let scale = 1 / Float(dh).squareRoot()
        pool.run(AttentionJob(qkv: qkv, ws: ws, t: t, d: d, heads: heads, scale: scale))
        // x += attn @ Wout + b and x += gelu(h @ W1 + b1) @ W2 + b2: biases go into the residual,
        // then the GEMM accumulates into it (beta = 1).
        Kernels.accumulate(ws.attn.data, rows: t, inDim: d, blk.outW, blk.outB, into: x, pool: pool, scratch: ws.scratch)
        Kernels.layerNorm(x, rows: t, d: d, gamma: blk.ln2w, beta: blk.ln2b, eps: eps, into: h, pool: pool)
        Kernels.linear(h, rows: t, inDim: d, blk.fc1W, blk.fc1B, into: ws.mlp.data, pool: pool, scratch: ws.scratch)
        pool.run(GeluJob(values: ws.mlp.data, rows: t, cols: mlpHidden, pool: pool))
        Kernels.accumulate(ws.mlp.data, rows: t, inDim: mlpHidden, blk.fc2W, blk.fc2B, into: x, pool: pool, scratch: ws.scratch)
    }

    /// Attention, heads split across threads: scores = q kᵀ · scale, softmax, then · v.
    private struct AttentionJob: ParallelJob {
        let qkv: UnsafeMutablePointer<Float>, ws: StepWorkspace, t: Int, d: Int, heads: Int, scale: Float
        func run(part: Int) {
            let scores = ws.scores[part].data, dh = d / heads
            for n in stride(from: part, to: heads, by: ws.pool.threads) {
                let q = qkv + n * dh, k = qkv + d + n * dh, v = qkv + 2 * d + n * dh
                if Kernels.wide && dh % 16 == 0 {
                    let tp = WideKernels.paddedTokens(t)
                    WideKernels.attentionScores(q: q, k: k, ld: 3 * d, t: t, dh: dh, scale: scale, kt: scores + t * tp, into: scores)
                    Kernels.softmaxRows(scores, rows: t, cols: t, ld: tp)
                    WideKernels.attentionValues(p: scores, v: v, ld: 3 * d, t: t, dh: dh, into: ws.attn.data + n * dh, ldOut: d)
                    continue
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(t), Int32(dh),
                            scale, q, Int32(3 * d), k, Int32(3 * d), 0, scores, Int32(t))
                Kernels.softmaxRows(scores, rows: t, cols: t, ld: t)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(dh), Int32(t),
                            1, scores, Int32(t), v, Int32(3 * d), 0, ws.attn.data + n * dh, Int32(d))
            }
        }
    }

    /// GELU in place over `rows` × `cols` values, rows split across threads.
    private struct GeluJob: ParallelJob {
        let values: UnsafeMutablePointer<Float>, rows: Int, cols: Int, pool: ComputePool
        func run(part: Int) {
            let r = pool.slice(rows, part: part, align: 1)
            Kernels.gelu(values + r.lowerBound * cols, count: r.count * cols)
        }
    }

    /// Pools the current tokens into one vector and applies exit norm `norm`.
    private func poolFeature(_ ws: StepWorkspace, norm: Int, into f: Tensor) {
        let x = ws.x.data, out = f.data
        switch pool {
        case .readout:
            out.update(from: x + (tokens - 1) * d, count: d)
        case .max:
            out.update(from: x, count: d)
            for r in 1..<tokens { let row = x + r * d; for j in 0..<d { out[j] = max(out[j], row[j]) } }
        }
        Kernels.layerNorm(out, rows: 1, d: d, gamma: exitNorms[norm].0, beta: exitNorms[norm].1, eps: eps, into: out, pool: nil)
    }

    /// Each LSTM layer's bias + `weight_hh` · committed h into `ws.recurrentGates`, once a step:
    /// every head run of the step (the reference read and each exit) starts from the committed
    /// state, so this half of the gates is shared; each run adds only `weight_ih` · its input.
    private func recurrentGates(state: RecurrentState, ws: StepWorkspace) {
        let hs = lstmHidden
        state.h.withUnsafeBufferPointer { hPrev in
            for (l, layer) in lstm.enumerated() {
                let g = ws.recurrentGates.data + l * 4 * hs
                g.update(from: layer.bias.data, count: 4 * hs)
                Kernels.gemv(hPrev.baseAddress! + l * hs, layer.whh, into: g, scratch: ws.scratch[0], pool: ws.pool)
            }
        }
    }

    /// A tentative head run from the committed state: the candidate state goes to the workspace,
    /// the clipped action to `action`. Needs this step's `recurrentGates`.
    private func headRun(feature: Tensor, state: RecurrentState, ws: StepWorkspace, into action: Tensor) {
        let hs = lstmHidden, g = ws.gates.data
        state.c.withUnsafeBufferPointer { cPrev in
            for l in lstm.indices {
                let input = l == 0 ? UnsafePointer(feature.data) : UnsafePointer(ws.candidateH.data + (l - 1) * hs)
                g.update(from: ws.recurrentGates.data + l * 4 * hs, count: 4 * hs)
                Kernels.gemv(input, lstm[l].wih, into: g, scratch: ws.scratch[0], pool: ws.pool)
                let hOut = ws.candidateH.data + l * hs, cOut = ws.candidateC.data + l * hs
                for j in 0..<hs {
                    let i = Kernels.sigmoid(g[j]), f = Kernels.sigmoid(g[hs + j])
                    let gg = Kernels.tanh(g[2 * hs + j]), o = Kernels.sigmoid(g[3 * hs + j])
                    let c = f * cPrev[l * hs + j] + i * gg
                    cOut[j] = c
                    hOut[j] = o * Kernels.tanh(c)
                }
            }
        }
        let mh = hfc1W.cols
        let top = ws.candidateH.data + (lstm.count - 1) * hs
        ws.headMLP.data.update(from: hfc1B.data, count: mh)
        Kernels.gemv(top, hfc1W, into: ws.headMLP.data, scratch: ws.scratch[0], pool: ws.pool)
        Kernels.gelu(ws.headMLP.data, count: mh)
        ws.raw.data.update(from: hfc2B.data, count: chunkValues)
        Kernels.gemv(ws.headMLP.data, hfc2W, into: ws.raw.data, scratch: ws.scratch[0])
        // Every action of the chunk is denormalised and clipped per dimension alike.
        for t in 0..<chunk {
            let row = t * actionDim
            for j in 0..<actionDim {
                action.data[row + j] = min(max(ws.raw.data[row + j] * actStd[j] + actMean[j], actLow[j]), actHigh[j])
            }
        }
    }

    /// RMS over the criterion dims of the chunk's first K actions.
    private func rms(_ a: Tensor, _ b: Tensor) -> Float {
        var s: Float = 0
        for t in 0..<criterionActions {
            let row = t * actionDim
            for j in criterionDims { let e = a.data[row + j] - b.data[row + j]; s += e * e }
        }
        return (s / Float(criterionActions * criterionDims.count)).squareRoot()
    }
}
