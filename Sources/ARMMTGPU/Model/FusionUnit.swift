/// Step 4 of docs/MODEL.md: one fusion unit (`cafu_item` over the candidate's {t, v}, or
/// `cafu_pers` over {p_text, p_image}) of the kind the `fusion` switch picks.
///
/// - `cafu`: the fused CAFU op with `fc1` `[h, 3d]` and `fc2` `[M, h]` (`[M·d, h]` for the
///   vector gate), context `[c ⊕ e]`.
/// - `mean`: the same op with a constant zero gate, which makes α uniform over the present
///   modalities: `r` = mean of the present `x_m` (and 0 when none is present). No parameters.
/// - `concat`: the op with one modality per item and a zero gate gives `p_m·x_m` (absent
///   modalities as zeros) for all N·M rows at once; `fuse` `[d, M·d]` maps the concatenation to `r`.
final class FusionUnit {
    let s: ModelShape
    let kind: FusionKind
    let m: Int
    let fc1: Linear?
    let fc2: Linear?
    let fuse: Linear?
    private let op: CAFUParameters
    /// `[N, M, d]` the modality vectors, written by the model before `forward`.
    let x: Tensor
    /// `[N, d]` the fused representation.
    let r: Tensor
    /// `[N, M]` or `[N, M, d]` (vector gate); for `concat`, `[N·M, 1]`.
    let alpha: Tensor
    private let hiddenPre: Tensor
    /// `[N·M, d]`: the masked modality vectors (`concat` only).
    private let masked: Tensor?
    private let dMasked: Tensor?
    /// `∂L/∂r`, written by the model before `backward`.
    let dR: Tensor
    /// `[N, M, d]`: `∂L/∂x` after `backward`.
    let dX: Tensor
    /// `[N, 2d]`: `∂L/∂[c ⊕ e]` after `backward` (`cafu` only).
    let dContext: Tensor?
    /// The zero gate of `mean`/`concat` and its (discarded) gradients.
    private let zero: [Tensor]
    private let zeroGrads: [Tensor]
    private let emptyContext: Tensor?

    init(_ f: ParameterFactory, _ s: ModelShape, name: String, kind: FusionKind) throws {
        self.s = s
        self.kind = kind
        m = s.modalityCount
        let be = f.backend, n = s.candidateRows, d = s.d
        x = try be.makeTensor([n, m, d])
        r = try be.makeTensor([n, d])
        dR = try be.makeTensor([n, d])
        dX = try be.makeTensor([n, m, d])
        switch kind {
        case .cafu:
            op = CAFUParameters(items: n, modalities: m, width: d, contextWidth: 2 * d, hidden: s.config.cafuHidden,
                                gate: s.config.gate)
            fc1 = try Linear(f, name + ".fc1", inputs: 3 * d, outputs: s.config.cafuHidden)
            fc2 = try Linear(f, name + ".fc2", inputs: s.config.cafuHidden, outputs: op.gateRows)
            fuse = nil
            dContext = try be.makeTensor([n, 2 * d])
        case .mean, .concat:
            op = CAFUParameters(items: kind == .mean ? n : n * m, modalities: kind == .mean ? m : 1, width: d,
                                contextWidth: 0, hidden: 1, gate: .scalar)
            fc1 = nil
            fc2 = nil
            fuse = kind == .concat ? try Linear(f, name + ".fuse", inputs: m * d, outputs: d) : nil
            dContext = nil
        }
        alpha = try be.makeTensor(op.gate == .scalar ? [op.items, op.modalities] : [op.items, op.modalities, d])
        hiddenPre = try be.makeTensor([op.items, op.hidden])
        masked = kind == .concat ? try be.makeTensor([n * m, d]) : nil
        dMasked = kind == .concat ? try be.makeTensor([n * m, d]) : nil
        if kind == .cafu {
            zero = []
            zeroGrads = []
            emptyContext = nil
        } else {
            let shapes = [[1, d], [1], [op.modalities, 1], [op.modalities]]
            zero = try shapes.map { try be.tensor([Float](repeating: 0, count: $0.reduce(1, *)), shape: $0) }
            zeroGrads = try shapes.map { try be.makeTensor($0) }
            emptyContext = try be.makeTensor([op.items, 0])
        }
    }

    /// `mask` `[N, M]` (presence), `context` `[N, 2d]` (`[c ⊕ e]`, read by `cafu` only).
    func forward(_ be: Backend, mask: Tensor, context: Tensor) throws {
        switch kind {
        case .cafu:
            try be.cafuForward(op, x: x, mask: mask, context: context, w1: fc1!.weight.value, b1: fc1!.bias!.value,
                               w2: fc2!.weight.value, b2: fc2!.bias!.value, r: r, alpha: alpha, hiddenPre: hiddenPre)
        case .mean:
            try be.cafuForward(op, x: x, mask: mask, context: emptyContext!, w1: zero[0], b1: zero[1], w2: zero[2],
                               b2: zero[3], r: r, alpha: alpha, hiddenPre: hiddenPre)
        case .concat:
            try be.cafuForward(op, x: x, mask: mask, context: emptyContext!, w1: zero[0], b1: zero[1], w2: zero[2],
                               b2: zero[3], r: masked!, alpha: alpha, hiddenPre: hiddenPre)
            try fuse!.forward(be, rows: s.candidateRows, x: Slab(masked!, ld: m * s.d), y: Slab(r))
        }
    }

    /// From `dR`: parameter gradients, `dX` and (`cafu`) `dContext`.
    func backward(_ be: Backend, mask: Tensor, context: Tensor, ones: Tensor) throws {
        switch kind {
        case .cafu:
            try be.cafuBackward(op, dr: dR, dAlpha: nil, x: x, mask: mask, context: context, w1: fc1!.weight.value,
                                w2: fc2!.weight.value, alpha: alpha, hiddenPre: hiddenPre, dx: dX, dContext: dContext!,
                                dW1: fc1!.weight.grad, db1: fc1!.bias!.grad, dW2: fc2!.weight.grad, db2: fc2!.bias!.grad)
        case .mean:
            try be.cafuBackward(op, dr: dR, dAlpha: nil, x: x, mask: mask, context: emptyContext!, w1: zero[0], w2: zero[2],
                                alpha: alpha, hiddenPre: hiddenPre, dx: dX, dContext: emptyContext!, dW1: zeroGrads[0],
                                db1: zeroGrads[1], dW2: zeroGrads[2], db2: zeroGrads[3])
        case .concat:
            try fuse!.backward(be, rows: s.candidateRows, dy: Slab(dR), x: Slab(masked!, ld: m * s.d),
                               dx: Slab(dMasked!, ld: m * s.d), ones: ones)
            try be.cafuBackward(op, dr: dMasked!, dAlpha: nil, x: x, mask: mask, context: emptyContext!, w1: zero[0],
                                w2: zero[2], alpha: alpha, hiddenPre: hiddenPre, dx: dX, dContext: emptyContext!,
                                dW1: zeroGrads[0], db1: zeroGrads[1], dW2: zeroGrads[2], db2: zeroGrads[3])
        }
    }

    /// α per candidate and modality `[N·M]` (mean over dimensions for the vector gate), `cafu` only.
    func readAlpha(_ be: Backend, candidates: Int) throws -> [Float]? {
        guard kind == .cafu else { return nil }
        let a = try be.read(alpha), count = candidates * m
        guard op.gate == .vector else { return Array(a[0..<count]) }
        let d = s.d
        return (0..<count).map { i in
            var sum: Float = 0
            for j in 0..<d { sum += a[i * d + j] }
            return sum / Float(d)
        }
    }

    var parameters: [Parameter] { [fc1, fc2, fuse].compactMap { $0 }.flatMap(\.parameters) }
}
