/// Scratch buffers for one step, allocated once per model so that a step allocates nothing.
/// Owned by one thread at a time.
public final class StepWorkspace: @unchecked Sendable {
    let x, normed, qkv, attn, scores, mlp, patches: Tensor
    let features: [Tensor]        // two, alternating: current and previous exit's feature
    let actions: [Tensor]         // two, alternating
    let raw, gates, headMLP: Tensor
    let candidateH, candidateC: Tensor

    init(tokens t: Int, width d: Int, mlp m: Int, patches p: Int, patchDim: Int,
         lstmHidden h: Int, lstmLayers l: Int, headMLP mh: Int, actionDim a: Int) {
        x = Tensor(shape: [t, d]); normed = Tensor(shape: [t, d]); qkv = Tensor(shape: [t, 3 * d])
        attn = Tensor(shape: [t, d]); scores = Tensor(shape: [t, t]); mlp = Tensor(shape: [t, m])
        patches = Tensor(shape: [p, patchDim])
        features = [Tensor(shape: [d]), Tensor(shape: [d])]
        actions = [Tensor(shape: [a]), Tensor(shape: [a])]
        raw = Tensor(shape: [a]); gates = Tensor(shape: [4 * h]); headMLP = Tensor(shape: [mh])
        candidateH = Tensor(shape: [l, h]); candidateC = Tensor(shape: [l, h])
    }
}
