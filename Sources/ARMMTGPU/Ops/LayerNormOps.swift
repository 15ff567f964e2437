/// LayerNorm over the last dimension (PyTorch's `nn.LayerNorm(d)` with affine weights).
///
/// Tensors are addressed as flat row-major arrays: any shape whose element count matches is
/// accepted (so `[B, K, d]` works as `[B·K, d]`). All float32.
public protocol LayerNormOps {
    /// For every row i < rows and feature j < d:
    ///
    ///     μ_i = (1/d) Σ_j x[i, j]
    ///     σ²_i = (1/d) Σ_j (x[i, j] − μ_i)²          (biased, as PyTorch)
    ///     ρ_i = 1 / sqrt(σ²_i + ε)
    ///     y[i, j] = γ[j]·(x[i, j] − μ_i)·ρ_i + β[j]
    ///
    /// - x: `[rows, d]`; gamma, beta: `[d]`; y: `[rows, d]` (may be the same tensor as x).
    /// - mean, rstd: `[rows]`, written with μ_i and ρ_i for the backward.
    func layerNormForward(_ p: LayerNormParameters, x: Tensor, gamma: Tensor, beta: Tensor,
                          y: Tensor, mean: Tensor, rstd: Tensor) throws

    /// Gradients of `layerNormForward` given dy = ∂L/∂y, with x̂[i, j] = (x[i, j] − μ_i)·ρ_i and
    /// g[i, j] = dy[i, j]·γ[j]:
    ///
    ///     dx[i, j] = ρ_i·(g[i, j] − (1/d)Σ_k g[i, k] − x̂[i, j]·(1/d)Σ_k g[i, k]·x̂[i, k])
    ///     dγ[j] = Σ_i dy[i, j]·x̂[i, j]          dβ[j] = Σ_i dy[i, j]
    ///
    /// - dy, x, dx: `[rows, d]` (dx may be the same tensor as dy); gamma, dGamma, dBeta: `[d]`;
    ///   mean, rstd: `[rows]` as written by the forward.
    /// - dGamma and dBeta are overwritten (not accumulated); the sums over rows are
    ///   deterministic (fixed partition and order, no atomics). With rows = 0 they are zero.
    func layerNormBackward(_ p: LayerNormParameters, dy: Tensor, x: Tensor, gamma: Tensor,
                           mean: Tensor, rstd: Tensor, dx: Tensor, dGamma: Tensor, dBeta: Tensor) throws
}

/// Sizes of one LayerNorm call.
public struct LayerNormParameters: Equatable, Sendable {
    /// Number of rows normalised independently (≥ 0).
    public var rows: Int
    /// Features per row, the normalised dimension d (≥ 1).
    public var features: Int
    /// ε added to the variance; PyTorch's default.
    public var epsilon: Float

    public init(rows: Int, features: Int, epsilon: Float = 1e-5) {
        self.rows = rows
        self.features = features
        self.epsilon = epsilon
    }

    func validateSizes() throws {
        guard rows >= 0, features >= 1 else {
            throw EngineError.usage("layernorm rows=\(rows) d=\(features): rows must be ≥ 0 and d ≥ 1")
        }
        guard epsilon >= 0, epsilon.isFinite else {
            throw EngineError.usage("layernorm: epsilon must be finite and ≥ 0, got \(epsilon)")
        }
        guard rows * features < Int(Int32.max) else {
            throw EngineError.usage("layernorm rows=\(rows) d=\(features): beyond 2^31 elements")
        }
    }

    public func validateForward(x: Tensor, gamma: Tensor, beta: Tensor, y: Tensor, mean: Tensor, rstd: Tensor) throws {
        try validateSizes()
        let rd = [rows, features], dv = [features], rv = [rows]
        try OpShape.require(x, rd, "layernorm x")
        try OpShape.require(gamma, dv, "layernorm gamma")
        try OpShape.require(beta, dv, "layernorm beta")
        try OpShape.require(y, rd, "layernorm y")
        try OpShape.require(mean, rv, "layernorm mean")
        try OpShape.require(rstd, rv, "layernorm rstd")
    }

    public func validateBackward(dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor,
                                 dx: Tensor, dGamma: Tensor, dBeta: Tensor) throws {
        try validateSizes()
        let rd = [rows, features], dv = [features], rv = [rows]
        try OpShape.require(dy, rd, "layernorm dy")
        try OpShape.require(x, rd, "layernorm x")
        try OpShape.require(gamma, dv, "layernorm gamma")
        try OpShape.require(mean, rv, "layernorm mean")
        try OpShape.require(rstd, rv, "layernorm rstd")
        try OpShape.require(dx, rd, "layernorm dx")
        try OpShape.require(dGamma, dv, "layernorm dGamma")
        try OpShape.require(dBeta, dv, "layernorm dBeta")
    }
}
