/// Sizes of one masked row softmax: `rows = batch · rowsPerBatch` rows of `length` scores,
/// row `r` belonging to sample `b = r / rowsPerBatch` (for attention scores
/// `[B·H·Lq, Lk]`: `rowsPerBatch = H·Lq`, `length = Lk`).
public struct MaskedSoftmaxParameters: Equatable, Sendable {
    public var batch: Int
    public var rowsPerBatch: Int
    public var length: Int
    /// Multiplies every score before the softmax (`1/√dh` for attention).
    public var scale: Float

    public init(batch: Int, rowsPerBatch: Int, length: Int, scale: Float = 1) {
        self.batch = batch
        self.rowsPerBatch = rowsPerBatch
        self.length = length
        self.scale = scale
    }

    public var rows: Int { batch * rowsPerBatch }

    /// Checks sizes and the tensors of a forward call (shared by both backends).
    public func validate(x: Tensor, keyMask: Tensor?, y: Tensor) throws {
        let name = "softmax B=\(batch) rows/B=\(rowsPerBatch) L=\(length)"
        guard batch >= 0, rowsPerBatch >= 0, length >= 1 else {
            throw EngineError.usage("\(name): sizes must be ≥ 0 and the row length ≥ 1")
        }
        guard scale.isFinite else { throw EngineError.usage("\(name): scale \(scale) is not finite") }
        guard rows * length < Int(Int32.max) else { throw EngineError.usage("\(name): beyond 2^31 elements") }
        try OpShape.require(x, [rows, length], "softmax x")
        if let keyMask { try OpShape.require(keyMask, [batch, length], "softmax key mask") }
        try OpShape.require(y, [rows, length], "softmax y")
    }
}

/// Masked row softmax: the middle step of unfused attention (`P = softmax(scale·Q·Kᵀ)` with a
/// key-padding mask), on a score matrix that lives in memory.
public protocol SoftmaxOps {
    /// For every row `r` of `x [rows, L]` (float32, rows = `p.rows`), sample `b = r / p.rowsPerBatch`,
    /// with `valid(j) = keyMask[b, j] != 0` (`keyMask [batch, L]` float32 1/0; nil: all valid):
    ///
    ///     m_r    = max_{valid j} s·x[r, j]
    ///     y[r,j] = valid(j) ? exp(s·x[r,j] − m_r) / Σ_{valid j'} exp(s·x[r,j'] − m_r) : 0
    ///
    /// A row with no valid key is all zeros (never NaN). Masked scores are never used, so they
    /// may hold anything, NaN included. `y [rows, L]` is written, never read; it may be `x`.
    func maskedSoftmaxForward(_ p: MaskedSoftmaxParameters, x: Tensor, keyMask: Tensor?, y: Tensor) throws
}
