/// The activation applied after a bias add.
public enum BiasActivation: String, Sendable, CaseIterable {
    /// GELU, exact erf form (PyTorch's default `gelu`): `u·Φ(u) = ½·u·(1 + erf(u/√2))`,
    /// derivative `Φ(u) + u·φ(u)` with `φ(u) = exp(−u²/2)/√(2π)`.
    case gelu
    /// `max(u, 0)`, derivative 1 where u > 0 and 0 elsewhere (as PyTorch: 0 at u = 0).
    case relu
}

/// Sizes of one bias + activation call on `x [rows, cols]` with `bias [cols]`.
public struct BiasActivationParameters: Equatable, Sendable {
    public var activation: BiasActivation
    public var rows: Int
    public var cols: Int

    public init(_ activation: BiasActivation, rows: Int, cols: Int) {
        self.activation = activation
        self.rows = rows
        self.cols = cols
    }

    func validateSizes() throws {
        guard rows >= 0, cols >= 0 else {
            throw EngineError.usage("bias+\(activation.rawValue) rows=\(rows) cols=\(cols): sizes must be ≥ 0")
        }
        guard rows * cols < Int(Int32.max) else {
            throw EngineError.usage("bias+\(activation.rawValue) rows=\(rows) cols=\(cols): beyond 2^31 elements")
        }
    }

    public func validateForward(x: Tensor, bias: Tensor?, y: Tensor) throws {
        try validateSizes()
        let name = "bias+\(activation.rawValue)"
        try OpShape.require(x, [rows, cols], "\(name) x")
        if let bias { try OpShape.require(bias, [cols], "\(name) bias") }
        try OpShape.require(y, [rows, cols], "\(name) y")
    }

    public func validateBackward(dy: Tensor, x: Tensor, bias: Tensor?, dx: Tensor, dBias: Tensor?) throws {
        try validateSizes()
        let name = "bias+\(activation.rawValue)"
        try OpShape.require(dy, [rows, cols], "\(name) dy")
        try OpShape.require(x, [rows, cols], "\(name) x")
        if let bias { try OpShape.require(bias, [cols], "\(name) bias") }
        try OpShape.require(dx, [rows, cols], "\(name) dx")
        if let dBias { try OpShape.require(dBias, [cols], "\(name) dBias") }
    }
}

/// Bandwidth-bound elementwise ops: bias + activation (forward and backward), residual adds,
/// and the scale-and-add that backward passes accumulate gradients with. float32 tensors,
/// addressed as flat row-major arrays (any shape with the right element count).
public protocol ElementwiseOps {
    /// `y[i, j] = act(x[i, j] + bias[j])` (bias nil: `act(x[i, j])`).
    /// x, y: `[rows, cols]` (y may be the same tensor as x); bias: `[cols]`.
    func biasActivationForward(_ p: BiasActivationParameters, x: Tensor, bias: Tensor?, y: Tensor) throws

    /// With u = x + bias (the forward's pre-activation input, recomputed):
    /// `dx[i, j] = dy[i, j]·act'(u[i, j])`, `dBias[j] = Σ_i dx[i, j]` (deterministic: fixed
    /// partition and order, no atomics; overwritten, zero when rows = 0).
    /// dy, x, dx: `[rows, cols]` (dx may be the same tensor as dy); bias, dBias: `[cols]`
    /// (either may be nil: no bias in the forward / no bias gradient wanted).
    func biasActivationBackward(_ p: BiasActivationParameters, dy: Tensor, x: Tensor, bias: Tensor?,
                                dx: Tensor, dBias: Tensor?) throws

    /// `out = a + b` elementwise; a, b, out hold the same number of elements (out may be a or b).
    func residualAdd(_ a: Tensor, _ b: Tensor, out: Tensor) throws

    /// `y += x` elementwise (gradient accumulation); same element counts.
    func accumulate(_ x: Tensor, into y: Tensor) throws

    /// `y = α·x + y` elementwise (BLAS axpy); same element counts.
    func scaleAdd(alpha: Float, x: Tensor, y: Tensor) throws

    /// `out = a ⊙ b`, or `out += a ⊙ b` with `accumulate`, elementwise; same element counts
    /// (out may be a or b when not accumulating). Its own adjoint: `da (+)= dOut ⊙ b`,
    /// `db (+)= dOut ⊙ a`.
    func multiply(_ a: Tensor, _ b: Tensor, out: Tensor, accumulate: Bool) throws
}

enum ElementwiseValidation {
    static func sameCount(_ op: String, _ tensors: [(Tensor, String)]) throws {
        let n = tensors[0].0.count
        for (t, role) in tensors {
            try Check.dtype(t, .float32, "\(op) \(role)")
            guard t.count == n else {
                throw EngineError.usage("\(op) \(role): expected \(n) elements (as \(tensors[0].1)), got \(t.count) (shape \(t.shape.shapeDescription))")
            }
        }
        guard n < Int(Int32.max) else { throw EngineError.usage("\(op): beyond 2^31 elements") }
    }
}
