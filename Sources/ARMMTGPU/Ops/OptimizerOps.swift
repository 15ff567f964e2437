import Foundation

/// Optimizer family: the global gradient norm with its clip scale, and fused AdamW.
///
/// The clip scale stays on the device and AdamW reads it there, so clipping costs no host
/// round trip; the norm is a device scalar the trainer reads when it reports (and checks
/// that it is finite).
public protocol OptimizerOps {
    /// `norm[0] = sqrt(Σ_i Σ_j tensors[i][j]²)` over every element of every tensor, and
    /// `clipScale[0] = min(1, maxNorm / (norm[0] + 1e-6))` (torch.nn.utils.clip_grad_norm_);
    /// a NaN norm gives a NaN scale. `norm`, `clipScale`: float32 with one element;
    /// `tensors`: float32 of any shapes (none, or empty ones, give norm 0 and scale 1).
    /// `maxNorm > 0`; `+∞` turns clipping off (scale 1 for a finite norm).
    ///
    /// Deterministic: a fixed two-stage reduction (per-tensor partial sums over a fixed grid,
    /// then one work-group summing the partials in order), no atomics.
    func gradientNorm(_ tensors: [Tensor], maxNorm: Float, norm: Tensor, clipScale: Tensor) throws

    /// One AdamW step on one parameter tensor, torch.optim.AdamW semantics (non-amsgrad,
    /// non-maximize), in PyTorch's order of operations. With `g = gradient · gradientScale[0]`
    /// (`gradientScale` nil: 1):
    ///
    ///     parameter *= 1 − lr·wd
    ///     m = m + (1 − β1)·(g − m)                  (= β1·m + (1 − β1)·g)
    ///     v = β2·v + (1 − β2)·g²
    ///     parameter −= (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + ε)
    ///
    /// `parameter`, `gradient`, `m`, `v`: float32 with equal element counts (any shapes);
    /// `gradientScale`: float32 with one element (the clip scale from `gradientNorm`).
    func adamW(_ p: AdamWParameters, parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor,
               gradientScale: Tensor?) throws

    /// `adamW` on every element of `tensors`, with one set of hyper-parameters and one scale:
    /// the same bits as one call per tensor, in fewer launches where a backend can batch them.
    func adamW(_ p: AdamWParameters, tensors: [AdamWTensors], gradientScale: Tensor?) throws
}

extension OptimizerOps {
    public func adamW(_ p: AdamWParameters, tensors: [AdamWTensors], gradientScale: Tensor?) throws {
        for t in tensors {
            try adamW(p, parameter: t.parameter, gradient: t.gradient, m: t.m, v: t.v, gradientScale: gradientScale)
        }
    }
}

/// One parameter tensor's share of an AdamW step.
public struct AdamWTensors {
    public var parameter: Tensor
    public var gradient: Tensor
    public var m: Tensor
    public var v: Tensor

    public init(parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor) {
        self.parameter = parameter
        self.gradient = gradient
        self.m = m
        self.v = v
    }
}

/// Hyper-parameters of one AdamW call; defaults are torch.optim.AdamW's.
public struct AdamWParameters: Equatable, Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float = 0.01
    /// The step count `t`, starting at 1 for the first update.
    public var step: Int

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0.01, step: Int) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.step = step
    }

    public func validate() throws {
        func fail(_ what: String) -> EngineError { .usage("adamw: \(what)") }
        guard learningRate.isFinite, learningRate >= 0 else { throw fail("learning rate \(learningRate) must be finite and ≥ 0") }
        guard beta1 >= 0, beta1 < 1 else { throw fail("beta1 \(beta1) outside [0, 1)") }
        guard beta2 >= 0, beta2 < 1 else { throw fail("beta2 \(beta2) outside [0, 1)") }
        guard epsilon.isFinite, epsilon > 0 else { throw fail("epsilon \(epsilon) must be finite and > 0") }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw fail("weight decay \(weightDecay) must be finite and ≥ 0") }
        guard step >= 1 else { throw fail("step \(step) must be ≥ 1 (the first update is step 1)") }
    }

    /// The per-call scalars, computed in Double and rounded once, as PyTorch does with its
    /// Python-float scalars: `(decay 1 − lr·wd, step size lr/(1 − β1^t), sqrt(1 − β2^t))`.
    public var scalars: (decay: Double, stepSize: Double, biasCorrection2Sqrt: Double) {
        let lr = Double(learningRate), t = Double(step)
        let bc1 = 1 - pow(Double(beta1), t)
        let bc2 = 1 - pow(Double(beta2), t)
        return (1 - lr * Double(weightDecay), lr / bc1, bc2.squareRoot())
    }
}

/// Validation shared by both backends' optimizer ops.
enum OptimizerValidation {
    static func gradientNorm(_ tensors: [Tensor], maxNorm: Float, norm: Tensor, clipScale: Tensor) throws {
        guard maxNorm > 0 else { throw EngineError.usage("gradient norm: maxNorm \(maxNorm) must be > 0 (+∞ turns clipping off)") }
        for (i, t) in tensors.enumerated() { try Check.dtype(t, .float32, "gradient norm tensor \(i)") }
        try Check.dtype(norm, .float32, "gradient norm output")
        try Check.count(norm, 1, "gradient norm output")
        try Check.dtype(clipScale, .float32, "gradient norm clipScale")
        try Check.count(clipScale, 1, "gradient norm clipScale")
    }

    static func adamW(_ p: AdamWParameters, parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor,
                      gradientScale: Tensor?) throws {
        try p.validate()
        try Check.dtype(parameter, .float32, "adamw parameter")
        for (t, role) in [(gradient, "gradient"), (m, "m"), (v, "v")] {
            try Check.dtype(t, .float32, "adamw \(role)")
            guard t.count == parameter.count else {
                throw EngineError.usage("adamw \(role): expected \(parameter.count) elements like the parameter \(parameter.shape.shapeDescription), got \(t.shape.shapeDescription)")
            }
        }
        if let s = gradientScale {
            try Check.dtype(s, .float32, "adamw gradientScale")
            try Check.count(s, 1, "adamw gradientScale")
        }
    }
}
