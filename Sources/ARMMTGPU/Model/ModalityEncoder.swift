/// Step 1 of docs/MODEL.md for one modality: `m = LN(x·Wᵀ + b)` (`text_proj`/`text_norm`,
/// `image_proj`/`image_norm`) for every candidate slot and, when the personalized branch runs,
/// every behaviour slot.
///
/// The projection is a function of the item alone, so it runs once per distinct item of the
/// batch (one GEMM over U rows, U ≤ R = B·K (+ B·L)) and an embedding gather spreads the rows to
/// the slots; the backward sums each item's slot gradients (the gather plan's fixed order) before
/// the LayerNorm and weight-gradient work, which also runs over U rows. Padding slots get zero
/// rows: every consumer masks them.
final class ModalityEncoder {
    let modality: Modality
    let proj: Linear
    let norm: LayerNormLayer
    /// R, the slots.
    let rows: Int
    /// `[R, d]`: candidate slots `0 ..< B·K`, behaviour slots after them.
    let out: Tensor
    /// `∂L/∂out`, filled by the consumers (the item CAFU, behaviour attention) before `backward`.
    let dOut: Tensor
    // Per distinct item, in the first U rows (allocated for U = R).
    private let pre: Tensor
    private let projected: Tensor
    private let dProjected: Tensor
    private let dPre: Tensor

    init(_ f: ParameterFactory, _ s: ModelShape, _ modality: Modality) throws {
        self.modality = modality
        rows = s.projectedRows
        let name = modality.rawValue
        proj = try Linear(f, name + "_proj", inputs: s.dim(modality), outputs: s.d)
        norm = try LayerNormLayer(f, name + "_norm", rows: rows, features: s.d)
        let be = f.backend
        pre = try be.makeTensor([rows, s.d])
        projected = try be.makeTensor([rows, s.d])
        out = try be.makeTensor([rows, s.d])
        dOut = try be.makeTensor([rows, s.d])
        dProjected = try be.makeTensor([rows, s.d])
        dPre = try be.makeTensor([rows, s.d])
    }

    /// `x` `[U, D_m]` the batch's distinct items; `slots` maps the R slots to them.
    func forward(_ be: Backend, x: Tensor, slots: Tensor) throws {
        let u = x.shape[0], d = proj.outputs
        try proj.forward(be, rows: u, x: Slab(x), y: Slab(pre, ld: d))
        try norm.forward(be, x: pre, y: projected, rows: u)
        try be.embeddingGather(table: projected.view([u, d]), indices: slots, output: out)
    }

    func backward(_ be: Backend, x: Tensor, plan: EmbeddingDevicePlan, ones: Tensor) throws {
        let u = x.shape[0], d = proj.outputs
        let dItems = dProjected.view([u, d])
        try be.fill(dItems, with: 0)
        try be.embeddingBackward(plan: plan, dOutput: dOut, dTable: dItems)
        try norm.backward(be, dy: dItems, x: pre, dx: dPre, rows: u)
        try proj.backward(be, rows: u, dy: Slab(dPre, ld: d), x: Slab(x), dx: nil, ones: ones)
    }
}
