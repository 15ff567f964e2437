/// Where one attention operand's head slices live in its tensor: token row `n` (`n = b·L + i`)
/// of head `h` starts at element `offset + n·rowStride + h·headDim` and holds `headDim`
/// contiguous elements. The dense layout `[B, L, H, dh]` is `offset 0, rowStride H·dh`; a
/// packed projection (e.g. Q and K side by side in one `[B, L, 2·H·dh]` tensor) uses
/// `rowStride 2·H·dh` and offsets `0` and `H·dh`.
public struct AttentionLayout: Equatable, Sendable {
    public var offset: Int
    /// Elements between consecutive token rows; nil means dense (`heads · headDim`).
    public var rowStride: Int?

    public init(offset: Int = 0, rowStride: Int? = nil) {
        self.offset = offset
        self.rowStride = rowStride
    }

    public static let dense = AttentionLayout()
}

/// Sizes and layouts of one fused attention call (see `AttentionOps` for the math).
/// `dQ`, `dK`, `dV` and `dOut` share the layouts of `q`, `k`, `v` and `out`.
public struct AttentionParameters: Equatable, Sendable {
    public var batch: Int
    public var queryLength: Int
    public var keyLength: Int
    public var heads: Int
    public var headDim: Int
    /// Multiplies `Q·K`; `1/√headDim` unless set.
    public var scale: Float
    public var qLayout = AttentionLayout.dense
    public var kLayout = AttentionLayout.dense
    public var vLayout = AttentionLayout.dense
    public var outLayout = AttentionLayout.dense

    /// Largest head width the kernels take (their register tiles are sized for it).
    public static let maxHeadDim = 128

    public init(batch: Int, queryLength: Int, keyLength: Int, heads: Int, headDim: Int, scale: Float? = nil) {
        self.batch = batch
        self.queryLength = queryLength
        self.keyLength = keyLength
        self.heads = heads
        self.headDim = headDim
        self.scale = scale ?? 1 / Float(max(headDim, 1)).squareRoot()
    }

    /// Width of one token row in the dense layout.
    public var modelWidth: Int { heads * headDim }

    /// Resolved row stride of an operand.
    public func rowStride(_ l: AttentionLayout) -> Int { l.rowStride ?? modelWidth }

    func fail(_ what: String) -> EngineError {
        .usage("attention B=\(batch) Lq=\(queryLength) Lk=\(keyLength) H=\(heads) dh=\(headDim): \(what)")
    }

    /// Checks sizes, layouts and the tensors of a forward call.
    public func validateForward(q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?, out: Tensor, logSumExp: Tensor) throws {
        try validateOperands(q: q, k: k, v: v, keyMask: keyMask, out: out)
        try Check.dtype(logSumExp, .float32, "attention logSumExp")
        try Check.shape(logSumExp, [batch, heads, queryLength], "attention logSumExp")
    }

    /// Checks sizes, layouts, Q, K, V, the mask and O (the forward's checks without the
    /// softmax statistics, which `UnfusedAttention` does not produce).
    public func validateOperands(q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?, out: Tensor) throws {
        guard batch >= 1, queryLength >= 1, keyLength >= 1, heads >= 1 else {
            throw fail("batch, lengths and heads must be at least 1")
        }
        guard (1...AttentionParameters.maxHeadDim).contains(headDim) else {
            throw fail("head width must be in 1...\(AttentionParameters.maxHeadDim)")
        }
        guard scale.isFinite else { throw fail("scale \(scale) is not finite") }
        try operand(q, qLayout, queryLength, "attention Q")
        try operand(k, kLayout, keyLength, "attention K")
        try operand(v, vLayout, keyLength, "attention V")
        try operand(out, outLayout, queryLength, "attention O")
        if let keyMask {
            try Check.dtype(keyMask, .float32, "attention key mask")
            try Check.shape(keyMask, [batch, keyLength], "attention key mask")
        }
    }

    /// Checks a backward call: the forward's tensors plus `dOut`, `dQ`, `dK`, `dV`.
    public func validateBackward(q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?, out: Tensor, logSumExp: Tensor,
                                 dOut: Tensor, dQ: Tensor, dK: Tensor, dV: Tensor) throws {
        try validateForward(q: q, k: k, v: v, keyMask: keyMask, out: out, logSumExp: logSumExp)
        try operand(dOut, outLayout, queryLength, "attention dO")
        try operand(dQ, qLayout, queryLength, "attention dQ")
        try operand(dK, kLayout, keyLength, "attention dK")
        try operand(dV, vLayout, keyLength, "attention dV")
    }

    /// A dense operand must have exactly the shape `[B, L, H, dh]`; a strided one must hold
    /// every head slice it addresses.
    private func operand(_ t: Tensor, _ l: AttentionLayout, _ length: Int, _ role: String) throws {
        try Check.dtype(t, .float32, role)
        if l == .dense {
            try Check.shape(t, [batch, length, heads, headDim], role)
            return
        }
        let stride = rowStride(l)
        guard l.offset >= 0, stride >= modelWidth else {
            throw fail("\(role): offset \(l.offset) must be ≥ 0 and row stride \(stride) ≥ H·dh = \(modelWidth)")
        }
        let need = l.offset + (batch * length - 1) * stride + modelWidth
        guard need <= t.count else {
            throw EngineError.usage("\(role): layout offset \(l.offset) row stride \(stride) needs \(need) elements for [\(batch), \(length), \(heads), \(headDim)], tensor \(t.shape.shapeDescription) has \(t.count)")
        }
        guard need <= Int(Int32.max) else { throw fail("\(role) beyond 2^31 elements") }
    }

    /// Floating-point operations of the forward (a multiply-add counts 2): scores and P·V.
    public var forwardFlops: Double {
        4 * Double(batch) * Double(heads) * Double(queryLength) * Double(keyLength) * Double(headDim)
    }
}
