/// Unfused multi-head attention forward: the baseline the fused `attentionForward` is measured
/// against (issue 3: fused must beat "GEMM + softmax + GEMM" at the default shapes).
///
/// Same math and layouts as `AttentionOps.attentionForward` (`Q [B, Lq, H, dh]`, K and V
/// `[B, Lk, H, dh]` or any `AttentionLayout` offset/row stride, e.g. K = columns `0..<d` and
/// V = columns `d..<2d` of one `[B·Lk, 2d]` tensor; `keyMask [B, Lk]` float32 1/0 or nil;
/// `O` in `p.outLayout`), computed in three steps through memory:
///
///     S[b,h] = Q[b,:,h,:] · K[b,:,h,:]ᵀ                       [Lq, Lk], H batched GEMMs (batch over b)
///     P[b,h] = masked row softmax of scale·S[b,h] (key mask row b)  in place, one launch
///     O[b,:,h,:] = P[b,h] · V[b,:,h,:]                       [Lq, dh], H batched GEMMs
///
/// `S` and `P` share one preallocated float32 `scores` buffer `[B·H·Lq, Lk]`, row
/// `(b·H + h)·Lq + i` (that memory round trip is what "unfused" costs). Only `O` is produced
/// (no log-sum-exp); a sample without a valid key gets `O = 0`, as the fused op.
///
/// Unlike the fused op, the GEMMs read every key: masked scores are dropped by the softmax
/// (so NaN in padded K rows is harmless), but padded V rows are multiplied by P = 0 and must
/// be finite (0·NaN = NaN). Elements of `out` outside its head windows are left untouched.
public final class UnfusedAttention {
    public let params: AttentionParameters
    public let backend: Backend
    /// `[B·H·Lq, Lk]` scores, then probabilities.
    public let scores: Tensor
    /// One score GEMM and one output GEMM per head (each batched over the B samples).
    public let scoreGemms: [GemmParameters]
    public let outputGemms: [GemmParameters]
    public let softmax: MaskedSoftmaxParameters

    public init(_ p: AttentionParameters, backend: Backend) throws {
        guard p.batch >= 1, p.queryLength >= 1, p.keyLength >= 1, p.heads >= 1, p.headDim >= 1 else {
            throw p.fail("batch, lengths, heads and head width must be at least 1")
        }
        params = p
        self.backend = backend
        let (lq, lk, dh, h) = (p.queryLength, p.keyLength, p.headDim, p.heads)
        scores = try backend.makeTensor([p.batch * h * lq, lk])
        let rsQ = p.rowStride(p.qLayout), rsK = p.rowStride(p.kLayout)
        let rsV = p.rowStride(p.vLayout), rsO = p.rowStride(p.outLayout)
        scoreGemms = (0..<h).map { head in
            var g = GemmParameters(m: lq, n: lk, k: dh, transB: true)
            g.lda = rsQ; g.offsetA = p.qLayout.offset + head * dh; g.strideA = lq * rsQ
            g.ldb = rsK; g.offsetB = p.kLayout.offset + head * dh; g.strideB = lk * rsK
            g.ldc = lk; g.offsetC = head * lq * lk; g.strideC = h * lq * lk
            g.batchCount = p.batch
            return g
        }
        outputGemms = (0..<h).map { head in
            var g = GemmParameters(m: lq, n: dh, k: lk)
            g.lda = lk; g.offsetA = head * lq * lk; g.strideA = h * lq * lk
            g.ldb = rsV; g.offsetB = p.vLayout.offset + head * dh; g.strideB = lk * rsV
            g.ldc = rsO; g.offsetC = p.outLayout.offset + head * dh; g.strideC = lq * rsO
            g.batchCount = p.batch
            return g
        }
        // The GEMMs leave the scale to the softmax, as the fused op applies it to Q·K.
        softmax = MaskedSoftmaxParameters(batch: p.batch, rowsPerBatch: h * lq, length: lk, scale: p.scale)
    }

    /// Enqueues the 2·H + 1 launches writing `out` (shapes: see the type's comment).
    public func forward(q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?, out: Tensor) throws {
        try params.validateOperands(q: q, k: k, v: v, keyMask: keyMask, out: out)
        for g in scoreGemms { try backend.gemm(g, a: q, b: k, c: scores, bias: nil) }
        try backend.maskedSoftmaxForward(softmax, x: scores, keyMask: keyMask, y: scores)
        for g in outputGemms { try backend.gemm(g, a: scores, b: v, c: out, bias: nil) }
    }

    /// Bytes of the score matrix crossing memory: written by the score GEMMs, read and written
    /// by the softmax, read by the output GEMMs.
    public var scoreTrafficBytes: Double { 4 * 4 * Double(scores.count) }
}
