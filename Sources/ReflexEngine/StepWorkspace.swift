import ReflexKernelsAVX512

/// Scratch buffers for one step, allocated once per model so that a step allocates nothing,
/// and the threads a step runs on. Owned by one caller thread at a time.
public final class StepWorkspace: @unchecked Sendable {
    let x, normed, qkv, attn, mlp, patches: Tensor
    /// One attention-score buffer per thread.
    let scores: [Tensor]
    let pool: ComputePool
    let features: [Tensor]        // two, alternating: current and previous exit's feature
    let actions: [Tensor]         // two, alternating: H·A values each
    let raw, gates, headMLP: Tensor
    let candidateH, candidateC: Tensor
    /// Per LSTM layer, its bias plus `weight_hh` · the committed h `[layers, 4·hidden]`: the same
    /// for every head run of a step (all start from the committed state), so computed once a step.
    let recurrentGates: Tensor
    /// The normalised state `[D]`.
    let stateInput: Tensor
    /// One per thread: the products' accumulators (`Kernels.productScratch` floats).
    let scratch: [Tensor]

    /// `patchValues`: the largest camera's patches × patch size; `actionValues`: H·A;
    /// `productScratch`: floats per thread for the products' accumulators (`Kernels.productScratch`).
    init(tokens t: Int, width d: Int, mlp m: Int, patchValues: Int,
         lstmHidden h: Int, lstmLayers l: Int, headMLP mh: Int, actionValues a: Int,
         stateDim: Int, productScratch: Int, threads: Int) {
        pool = ComputePool(threads: threads)
        x = Tensor(shape: [t, d]); normed = Tensor(shape: [t, d]); qkv = Tensor(shape: [t, 3 * d])
        attn = Tensor(shape: [t, d]); mlp = Tensor(shape: [t, m])
        // [t, t] for sgemm; the AVX-512 attention keeps rows of paddedTokens(t) and k transposed
        let tp = WideKernels.paddedTokens(t)
        scores = (0..<pool.threads).map { _ in Tensor(shape: [max(t * t, tp * (t + d))]) }
        patches = Tensor(shape: [patchValues])
        features = [Tensor(shape: [d]), Tensor(shape: [d])]
        actions = [Tensor(shape: [a]), Tensor(shape: [a])]
        raw = Tensor(shape: [a]); gates = Tensor(shape: [4 * h]); headMLP = Tensor(shape: [mh])
        candidateH = Tensor(shape: [l, h]); candidateC = Tensor(shape: [l, h])
        recurrentGates = Tensor(shape: [l, 4 * h])
        stateInput = Tensor(shape: [stateDim])
        scratch = (0..<pool.threads).map { _ in Tensor(shape: [productScratch]) }
    }

    /// Threads one step runs on.
    public var threads: Int { pool.threads }

    deinit { pool.stop() }
}
