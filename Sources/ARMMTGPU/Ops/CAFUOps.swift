/// Which gate the CAFU computes: one weight per modality, or one per modality and dimension
/// (spec §2.3, switch `gate = vector`).
public enum CAFUGate: String, Sendable, CaseIterable {
    case scalar, vector
}

/// Sizes of one CAFU call (spec §2.3). N items (batch × candidates), M modalities of width d,
/// context width dc (the spec's k = c ⊕ e), hidden width H of the gate MLP.
public struct CAFUParameters: Equatable, Sendable {
    public var items: Int
    public var modalities: Int
    public var width: Int
    public var contextWidth: Int
    public var hidden: Int
    public var gate: CAFUGate

    public init(items: Int, modalities: Int = 2, width: Int = 64, contextWidth: Int = 128, hidden: Int = 64,
                gate: CAFUGate = .scalar) {
        self.items = items
        self.modalities = modalities
        self.width = width
        self.contextWidth = contextWidth
        self.hidden = hidden
        self.gate = gate
    }

    /// Gate logits per item: G = M (scalar) or M·d (vector); W2 is `[G, H]`, b2 `[G]`.
    public var gateRows: Int { gate == .scalar ? modalities : modalities * width }
    /// Gate values per modality: 1 (scalar) or d (vector); α is `[N, M, gateWidth]`.
    public var gateWidth: Int { gate == .scalar ? 1 : width }
    /// Input width of the first layer, d + dc; W1 is `[H, d + dc]`.
    public var inputWidth: Int { width + contextWidth }
    var alphaShape: [Int] { gate == .scalar ? [items, modalities] : [items, modalities, width] }

    func validateSizes() throws {
        guard items >= 0, modalities >= 1, width >= 1, contextWidth >= 0, hidden >= 1 else {
            throw EngineError.usage("cafu N=\(items) M=\(modalities) d=\(width) dc=\(contextWidth) hidden=\(hidden): need N ≥ 0, M ≥ 1, d ≥ 1, dc ≥ 0, hidden ≥ 1")
        }
        let largest = max(items * modalities * width, items * max(inputWidth, gateRows, hidden), hidden * inputWidth,
                          gateRows * hidden)
        guard largest < Int(Int32.max) else { throw EngineError.usage("cafu: tensors beyond 2^31 elements") }
    }

    public func validateForward(x: Tensor, mask: Tensor, context: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor,
                                r: Tensor, alpha: Tensor, hiddenPre: Tensor) throws {
        try validateSizes()
        try validateInputs(x: x, mask: mask, context: context, w1: w1, w2: w2)
        try OpShape.require(b1, [hidden], "cafu b1")
        try OpShape.require(b2, [gateRows], "cafu b2")
        try OpShape.require(r, [items, width], "cafu r")
        try OpShape.require(alpha, alphaShape, "cafu alpha")
        try OpShape.require(hiddenPre, [items, hidden], "cafu hiddenPre")
    }

    public func validateBackward(dr: Tensor, dAlpha: Tensor?, x: Tensor, mask: Tensor, context: Tensor, w1: Tensor,
                                 w2: Tensor, alpha: Tensor, hiddenPre: Tensor, dx: Tensor, dContext: Tensor,
                                 dW1: Tensor, db1: Tensor, dW2: Tensor, db2: Tensor) throws {
        try validateSizes()
        try OpShape.require(dr, [items, width], "cafu dr")
        if let dAlpha { try OpShape.require(dAlpha, alphaShape, "cafu dAlpha") }
        try validateInputs(x: x, mask: mask, context: context, w1: w1, w2: w2)
        try OpShape.require(alpha, alphaShape, "cafu alpha")
        try OpShape.require(hiddenPre, [items, hidden], "cafu hiddenPre")
        try OpShape.require(dx, [items, modalities, width], "cafu dx")
        try OpShape.require(dContext, [items, contextWidth], "cafu dContext")
        try OpShape.require(dW1, [hidden, inputWidth], "cafu dW1")
        try OpShape.require(db1, [hidden], "cafu db1")
        try OpShape.require(dW2, [gateRows, hidden], "cafu dW2")
        try OpShape.require(db2, [gateRows], "cafu db2")
    }

    private func validateInputs(x: Tensor, mask: Tensor, context: Tensor, w1: Tensor, w2: Tensor) throws {
        try OpShape.require(x, [items, modalities, width], "cafu x")
        try OpShape.require(mask, [items, modalities], "cafu mask")
        try OpShape.require(context, [items, contextWidth], "cafu context")
        try OpShape.require(w1, [hidden, inputWidth], "cafu w1")
        try OpShape.require(w2, [gateRows, hidden], "cafu w2")
    }
}

/// The Context-Aware Fusion Unit gate (spec §2.3), fused. For item n with modality vectors
/// x_m = x[n, m, :] ∈ R^d, presence p_m = (mask[n, m] ≠ 0), P = Σ_m p_m, context k = context[n, :]:
///
///     z = (1/P) Σ_m p_m·x_m                      (z = 0 when P = 0)
///     s = W1·[z ⊕ k] + b1 ∈ R^H                  (hiddenPre; W1 [H, d+dc], PyTorch Linear layout)
///     a = W2·ReLU(s) + b2 ∈ R^G                  (G = M, or M·d for the vector gate, row m·d + j)
///     α_m = p_m·exp(a_m) / Σ_m' p_m'·exp(a_m')   (per dimension j for the vector gate; all 0 when P = 0)
///     r = Σ_m α_m ⊙ x_m ∈ R^d                    (0 when P = 0; absent x_m never read)
///
/// float32 tensors, flat row-major (any shape with the right element count).
public protocol CAFUOps {
    /// x `[N, M, d]`, mask `[N, M]` (1 present, 0 absent), context `[N, dc]`, w1 `[H, d+dc]`, b1 `[H]`,
    /// w2 `[G, H]`, b2 `[G]` → r `[N, d]`, alpha `[N, M]` (scalar) or `[N, M, d]` (vector),
    /// hiddenPre `[N, H]` (s, saved for the backward).
    func cafuForward(_ p: CAFUParameters, x: Tensor, mask: Tensor, context: Tensor, w1: Tensor, b1: Tensor,
                     w2: Tensor, b2: Tensor, r: Tensor, alpha: Tensor, hiddenPre: Tensor) throws

    /// Gradients of `cafuForward` for a loss with ∂L/∂r = dr `[N, d]` and, optionally (nil: 0),
    /// ∂L/∂α = dAlpha (alpha's shape). Uses the forward's alpha and hiddenPre. Writes (overwrites)
    /// dx `[N, M, d]` (0 for absent modalities), dContext `[N, dc]`, dW1 `[H, d+dc]`, db1 `[H]`,
    /// dW2 `[G, H]`, db2 `[G]`. Sums over items are deterministic (no atomics):
    ///
    ///     g_m = dr·x_m (scalar; per j for the vector gate) + dAlpha_m
    ///     da_m = α_m·(g_m − Σ_m' α_m'·g_m'),  dW2 = Σ_n da ⊗ ReLU(s),  db2 = Σ_n da
    ///     ds = (W2ᵀ·da) ⊙ [s > 0],             dW1 = Σ_n ds ⊗ [z ⊕ k],  db1 = Σ_n ds
    ///     [dz ⊕ dk] = W1ᵀ·ds,   dx_m = α_m ⊙ dr + (p_m / P)·dz,   dContext = dk
    func cafuBackward(_ p: CAFUParameters, dr: Tensor, dAlpha: Tensor?, x: Tensor, mask: Tensor, context: Tensor,
                      w1: Tensor, w2: Tensor, alpha: Tensor, hiddenPre: Tensor,
                      dx: Tensor, dContext: Tensor, dW1: Tensor, db1: Tensor, dW2: Tensor, db2: Tensor) throws
}
