/// Step 3 of docs/MODEL.md for one modality (`behaviour_attn.{m}`): the candidates' `m` attend
/// to the behaviours' `m + recency` with H heads; behaviour padding and behaviours without the
/// modality are masked, and a request with no such behaviour gets `out_proj(0)` (the bias).
final class BehaviourAttention {
    let s: ModelShape
    let q: Linear
    let k: Linear
    let v: Linear
    let out: Linear
    /// k_proj and v_proj read the same input: one GEMM writing `[K ⊕ V]`.
    private let keyValue: LinearGroup
    let attention: AttentionParameters
    /// `[B·L, d]`: the behaviours' `m + recency_emb[l]`.
    let kvIn: Tensor
    let qProj: Tensor
    /// `[B·L, 2d]`: keys in columns `0 ..< d`, values in `d ..< 2d`.
    let kv: Tensor
    let attended: Tensor
    let lse: Tensor
    /// `[B·K, d]`: `p_m`.
    let p: Tensor
    /// `∂L/∂p_m`, filled by the personalized CAFU.
    let dP: Tensor
    private let dAttended: Tensor
    private let dQ: Tensor
    private let dKV: Tensor

    init(_ f: ParameterFactory, _ s: ModelShape, _ modality: Modality) throws {
        self.s = s
        let name = "behaviour_attn." + modality.rawValue, d = s.d
        q = try Linear(f, name + ".q_proj", inputs: d, outputs: d)
        k = try Linear(f, name + ".k_proj", inputs: d, outputs: d)
        v = try Linear(f, name + ".v_proj", inputs: d, outputs: d)
        out = try Linear(f, name + ".out_proj", inputs: d, outputs: d)
        let be = f.backend, n = s.candidateRows, nl = s.behaviourRows
        keyValue = try LinearGroup(be, [k, v])
        var a = AttentionParameters(batch: s.batch, queryLength: s.k, keyLength: s.l, heads: s.heads, headDim: s.headDim)
        a.kLayout = AttentionLayout(offset: 0, rowStride: 2 * d)
        a.vLayout = AttentionLayout(offset: d, rowStride: 2 * d)
        attention = a
        kvIn = try be.makeTensor([nl, d])
        qProj = try be.makeTensor([s.batch, s.k, s.heads, s.headDim])
        kv = try be.makeTensor([nl, 2 * d])
        attended = try be.makeTensor([s.batch, s.k, s.heads, s.headDim])
        lse = try be.makeTensor([s.batch, s.heads, s.k])
        p = try be.makeTensor([n, d])
        dP = try be.makeTensor([n, d])
        dAttended = try be.makeTensor([s.batch, s.k, s.heads, s.headDim])
        dQ = try be.makeTensor([s.batch, s.k, s.heads, s.headDim])
        dKV = try be.makeTensor([nl, 2 * d])
    }

    /// `modality` is the encoder output `[R, d]` (candidates, then behaviours).
    func forward(_ be: Backend, modality m: Tensor, recency: Parameter, keyMask: Tensor) throws {
        let d = s.d, n = s.candidateRows, nl = s.behaviourRows
        try be.copyColumns(rows: nl, cols: d, from: Slab(m, ld: d, offset: n * d), to: Slab(kvIn))
        try be.addToEveryRow(batch: s.batch, table: recency.value, x: kvIn)
        try q.forward(be, rows: n, x: Slab(m, ld: d), y: Slab(qProj, ld: d))
        try keyValue.forward(be, rows: nl, x: Slab(kvIn), y: Slab(kv))
        try be.attentionForward(attention, q: qProj, k: kv, v: kv, keyMask: keyMask, out: attended, logSumExp: lse)
        try out.forward(be, rows: n, x: Slab(attended, ld: d), y: Slab(p))
    }

    /// From `dP`: parameter gradients; `dModality` `[R, d]` gets the candidate rows' gradient
    /// added (the item CAFU wrote them first) and the behaviour rows' gradient written;
    /// `recency.grad` is written (`accumulateRecency`: added).
    func backward(_ be: Backend, modality m: Tensor, dModality: Tensor, recency: Parameter, keyMask: Tensor,
                  accumulateRecency: Bool, ones: Tensor) throws {
        let d = s.d, n = s.candidateRows, nl = s.behaviourRows
        try out.backward(be, rows: n, dy: Slab(dP), x: Slab(attended, ld: d), dx: Slab(dAttended, ld: d), ones: ones)
        try be.attentionBackward(attention, q: qProj, k: kv, v: kv, keyMask: keyMask, out: attended, logSumExp: lse,
                                 dOut: dAttended, dQ: dQ, dK: dKV, dV: dKV)
        try q.backward(be, rows: n, dy: Slab(dQ, ld: d), x: Slab(m, ld: d), dx: Slab(dModality, ld: d),
                       accumulateDX: true, ones: ones)
        let dBehaviour = Slab(dModality, ld: d, offset: n * d)
        try keyValue.backward(be, rows: nl, dy: Slab(dKV), x: Slab(kvIn), dx: dBehaviour, ones: ones)
        // ∂L/∂kvIn is now in the behaviour rows of dModality; recency is added to every request.
        var p = GemmParameters(m: 1, n: s.l * d, k: s.batch, beta: accumulateRecency ? 1 : 0)
        p.lda = s.batch
        p.offsetB = n * d
        try be.gemm(p, a: ones, b: dModality, c: recency.grad, bias: nil)
    }

    var parameters: [Parameter] { q.parameters + k.parameters + v.parameters + out.parameters }
}
