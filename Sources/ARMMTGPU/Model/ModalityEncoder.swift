/// Step 1 of docs/MODEL.md for one modality: `m = LN(x·Wᵀ + b)` (`text_proj`/`text_norm`,
/// `image_proj`/`image_norm`) over every candidate row and, when the personalized branch
/// runs, every behaviour row: one GEMM over `R = B·K (+ B·L)` rows.
final class ModalityEncoder {
    let modality: Modality
    let proj: Linear
    let norm: LayerNormLayer
    let rows: Int
    let pre: Tensor
    /// `[R, d]`: candidate rows `0 ..< B·K`, behaviour rows after them.
    let out: Tensor
    /// `∂L/∂out`, filled by the consumers (the item CAFU, behaviour attention) before `backward`.
    let dOut: Tensor
    private let dPre: Tensor

    init(_ f: ParameterFactory, _ s: ModelShape, _ modality: Modality) throws {
        self.modality = modality
        rows = s.projectedRows
        let name = modality.rawValue
        proj = try Linear(f, name + "_proj", inputs: s.dim(modality), outputs: s.d)
        norm = try LayerNormLayer(f, name + "_norm", rows: rows, features: s.d)
        let be = f.backend
        pre = try be.makeTensor([rows, s.d])
        out = try be.makeTensor([rows, s.d])
        dOut = try be.makeTensor([rows, s.d])
        dPre = try be.makeTensor([rows, s.d])
    }

    func forward(_ be: Backend, x: Tensor) throws {
        try proj.forward(be, rows: rows, x: Slab(x), y: Slab(pre))
        try norm.forward(be, x: pre, y: out)
    }

    func backward(_ be: Backend, x: Tensor, ones: Tensor) throws {
        try norm.backward(be, dy: dOut, x: pre, dx: dPre)
        try proj.backward(be, rows: rows, dy: Slab(dPre), x: Slab(x), dx: nil, ones: ones)
    }
}
