/// Step 5 of docs/MODEL.md: one MPSA block `mpsa.{b}` over the list, `multi` or `single`.
///
/// - `multi`: H/2 heads per perspective π ∈ {item, pers}: `q = π.q_proj(h_π)`,
///   `k = π.k_proj(h_π)` (r_π instead of h_π with `mpsa_qk = r`), `v = π.v_proj(u)` (each
///   `[d/2, d]`). The four Q/K projections are packed side by side in one `[N, 2d]` tensor and
///   the values in `[N, d]`, so the attention reads them with strided layouts and writes
///   `[o_item ⊕ o_pers]` in place.
/// - `single`: `q, k, v = q_proj(u), k_proj(u), v_proj(u)` packed in `[N, 3d]`, H heads.
///
/// Then `o = out_proj(·)`, `y = norm1(u + o)`, `z = norm2(y + ffn.fc2(GELU(ffn.fc1(y))))`.
final class MPSABlock {
    let s: ModelShape
    let kind: MPSAKind
    let projections: [Linear]
    /// The projections that share an input, each group one GEMM (multi: item Q/K from h_I, pers
    /// Q/K from h_P, both V from u; single: Q/K/V from u).
    private let groups: [LinearGroup]
    let outProj: Linear
    let norm1: LayerNormLayer
    let fc1: Linear
    let fc2: Linear
    let norm2: LayerNormLayer
    private let attention: [AttentionParameters]
    private let qk: Tensor
    private let values: Tensor
    private let attended: Tensor
    private let lse: [Tensor]
    private let o: Tensor
    private let sum1: Tensor
    private let y: Tensor
    private let f1: Tensor
    private let g: Tensor
    private let f2: Tensor
    private let sum2: Tensor
    /// `[N, d]` the block's output z.
    let z: Tensor
    /// `∂L/∂z`, written by whatever reads z before `backward`.
    let dZ: Tensor
    private let dSum2: Tensor
    private let dG: Tensor
    private let dY: Tensor
    private let dSum1: Tensor
    private let dAttended: Tensor
    private let dQK: Tensor
    private let dValues: Tensor

    init(_ f: ParameterFactory, _ s: ModelShape, index: Int) throws {
        precondition(s.config.mpsa != .off)
        self.s = s
        kind = s.config.mpsa
        let name = "mpsa.\(index)", d = s.d, n = s.candidateRows, be = f.backend
        var attention: [AttentionParameters] = []
        if kind == .multi {
            var proj: [Linear] = []
            for pi in ["item", "pers"] {
                for w in ["q_proj", "k_proj", "v_proj"] {
                    proj.append(try Linear(f, "\(name).\(pi).\(w)", inputs: d, outputs: d / 2))
                }
            }
            projections = proj
            groups = try [[0, 1], [3, 4], [2, 5]].map { try LinearGroup(be, $0.map { proj[$0] }) }
            let half = d / 2
            for (i, base) in [0, d].enumerated() {
                var a = AttentionParameters(batch: s.batch, queryLength: s.k, keyLength: s.k, heads: s.heads / 2, headDim: s.headDim)
                a.qLayout = AttentionLayout(offset: base, rowStride: 2 * d)
                a.kLayout = AttentionLayout(offset: base + half, rowStride: 2 * d)
                a.vLayout = AttentionLayout(offset: i * half, rowStride: d)
                a.outLayout = AttentionLayout(offset: i * half, rowStride: d)
                attention.append(a)
            }
            qk = try be.makeTensor([n, 2 * d])
            values = try be.makeTensor([n, d])
        } else {
            projections = try ["q_proj", "k_proj", "v_proj"].map { try Linear(f, "\(name).\($0)", inputs: d, outputs: d) }
            groups = [try LinearGroup(be, projections)]
            var a = AttentionParameters(batch: s.batch, queryLength: s.k, keyLength: s.k, heads: s.heads, headDim: s.headDim)
            a.qLayout = AttentionLayout(offset: 0, rowStride: 3 * d)
            a.kLayout = AttentionLayout(offset: d, rowStride: 3 * d)
            a.vLayout = AttentionLayout(offset: 2 * d, rowStride: 3 * d)
            a.outLayout = AttentionLayout(offset: 0, rowStride: d)
            attention.append(a)
            qk = try be.makeTensor([n, 3 * d])
            values = qk
        }
        self.attention = attention
        outProj = try Linear(f, name + ".out_proj", inputs: d, outputs: d)
        norm1 = try LayerNormLayer(f, name + ".norm1", rows: n, features: d)
        fc1 = try Linear(f, name + ".ffn.fc1", inputs: d, outputs: 4 * d)
        fc2 = try Linear(f, name + ".ffn.fc2", inputs: 4 * d, outputs: d)
        norm2 = try LayerNormLayer(f, name + ".norm2", rows: n, features: d)
        attended = try be.makeTensor([n, d])
        lse = try attention.map { try be.makeTensor([s.batch, $0.heads, s.k]) }
        o = try be.makeTensor([n, d])
        sum1 = try be.makeTensor([n, d])
        y = try be.makeTensor([n, d])
        f1 = try be.makeTensor([n, 4 * d])
        g = try be.makeTensor([n, 4 * d])
        f2 = try be.makeTensor([n, d])
        sum2 = try be.makeTensor([n, d])
        z = try be.makeTensor([n, d])
        dZ = try be.makeTensor([n, d])
        dSum2 = try be.makeTensor([n, d])
        dG = try be.makeTensor([n, 4 * d])
        dY = try be.makeTensor([n, d])
        dSum1 = try be.makeTensor([n, d])
        dAttended = try be.makeTensor([n, d])
        dQK = try be.makeTensor(qk.shape)
        dValues = kind == .multi ? try be.makeTensor([n, d]) : dQK
    }

    /// The (input, output) slabs of each projection group: multi reads the two halves of `qkIn` (Q, K) and u (V).
    private func groupSlabs(u: Tensor, qkIn: Tensor, _ qk: Tensor, _ values: Tensor) -> [(Slab, Slab)] {
        let d = s.d
        if kind == .single { return [(Slab(u), Slab(qk, ld: 3 * d))] }
        return [(Slab(qkIn, ld: 2 * d), Slab(qk, ld: 2 * d)), (Slab(qkIn, ld: 2 * d, offset: d), Slab(qk, ld: 2 * d, offset: d)),
                (Slab(u), Slab(values, ld: d))]
    }

    /// `u` `[N, d]` the joint token (or the previous block's z); `qkIn` `[N, 2d]` the item and the
    /// personalized perspective's query/key input side by side: `[h_I ⊕ h_P]`, or
    /// `[r_item ⊕ r_pers]` with `mpsa_qk = r` (unused by `single`).
    func forward(_ be: Backend, u: Tensor, qkIn: Tensor, mask: Tensor) throws {
        let n = s.candidateRows
        for (group, (x, y)) in zip(groups, groupSlabs(u: u, qkIn: qkIn, qk, values)) {
            try group.forward(be, rows: n, x: x, y: y)
        }
        for (a, l) in zip(attention, lse) {
            try be.attentionForward(a, q: qk, k: qk, v: values, keyMask: mask, out: attended, logSumExp: l)
        }
        try outProj.forward(be, rows: n, x: Slab(attended), y: Slab(o))
        try be.residualAdd(u, o, out: sum1)
        try norm1.forward(be, x: sum1, y: y)
        try fc1.forward(be, rows: n, x: Slab(y), y: Slab(f1), addBias: false)
        try be.biasActivationForward(BiasActivationParameters(.gelu, rows: n, cols: 4 * s.d), x: f1, bias: fc1.bias!.value, y: g)
        try fc2.forward(be, rows: n, x: Slab(g), y: Slab(f2))
        try be.residualAdd(y, f2, out: sum2)
        try norm2.forward(be, x: sum2, y: z)
    }

    /// From `dZ`: parameter gradients, `dU` written, `dQKIn` added to (multi's Q/K inputs).
    func backward(_ be: Backend, u: Tensor, qkIn: Tensor, mask: Tensor, dU: Tensor, dQKIn: Tensor, ones: Tensor) throws {
        let n = s.candidateRows, d = s.d
        try norm2.backward(be, dy: dZ, x: sum2, dx: dSum2)
        try fc2.backward(be, rows: n, dy: Slab(dSum2), x: Slab(g), dx: Slab(dG), ones: ones)
        try be.biasActivationBackward(BiasActivationParameters(.gelu, rows: n, cols: 4 * d), dy: dG, x: f1,
                                      bias: fc1.bias!.value, dx: dG, dBias: fc1.bias!.grad)
        try be.copyColumns(rows: n, cols: d, from: Slab(dSum2), to: Slab(dY))
        try fc1.backward(be, rows: n, dy: Slab(dG), x: Slab(y), dx: Slab(dY), accumulateDX: true, ones: ones,
                         biasGradient: false)
        try norm1.backward(be, dy: dY, x: sum1, dx: dSum1)
        try outProj.backward(be, rows: n, dy: Slab(dSum1), x: Slab(attended), dx: Slab(dAttended), ones: ones)
        for (a, l) in zip(attention, lse) {
            try be.attentionBackward(a, q: qk, k: qk, v: values, keyMask: mask, out: attended, logSumExp: l,
                                     dOut: dAttended, dQ: dQK, dK: dQK, dV: dValues)
        }
        // dU = dSum1 (the residual) + the value (single: every) projection's input gradient.
        try be.copyColumns(rows: n, cols: d, from: Slab(dSum1), to: Slab(dU))
        let forward = groupSlabs(u: u, qkIn: qkIn, qk, values)
        let backward = groupSlabs(u: dU, qkIn: dQKIn, dQK, dValues)
        for (i, group) in groups.enumerated() {
            try group.backward(be, rows: n, dy: backward[i].1, x: forward[i].0, dx: backward[i].0, accumulateDX: true,
                               ones: ones)
        }
    }

    var parameters: [Parameter] {
        projections.flatMap(\.parameters) + outProj.parameters + [norm1.gamma, norm1.beta] + fc1.parameters
            + fc2.parameters + [norm2.gamma, norm2.beta]
    }
}
