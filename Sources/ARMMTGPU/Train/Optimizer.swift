import Foundation

/// Linear warm-up, then cosine decay to 0 over the run.
///
/// For the update with 0-based index `i` (the `i+1`-th optimizer step) of `total`:
/// - `i < warmup`: `lr = peak · (i + 1) / warmup` (the first update is not wasted at 0);
/// - otherwise `p = (i − warmup) / max(1, total − warmup)`, `lr = peak · ½ (1 + cos π p)`,
///   which reaches 0 exactly at `i = total`, one past the last update.
public struct LearningRateSchedule: Equatable, Sendable {
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(peak: Double, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    public func rate(at index: Int) -> Double {
        if index < warmupSteps { return peak * Double(index + 1) / Double(warmupSteps) }
        let p = min(1, Double(index - warmupSteps) / Double(max(1, totalSteps - warmupSteps)))
        return peak * 0.5 * (1 + cos(Double.pi * p))
    }
}

/// Global-norm clipping + AdamW over a model's parameters, all on the model's backend.
///
/// One step: `backend.gradientNorm` over every `Parameter.grad` writes the norm and the clip
/// scale `min(1, clip / (norm + 1e-6))` to the device; `backend.adamW` runs per parameter
/// reading that scale there (torch.nn.utils.clip_grad_norm_ followed by torch.optim.AdamW,
/// weight decay on every parameter as AdamW's default parameter group does). The norm is read
/// back once per step so a non-finite one is caught before any parameter changes.
public final class AdamWOptimizer {
    public let backend: Backend
    public let parameters: [Parameter]
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// nil: no clipping.
    public var clipNorm: Float?
    /// Updates applied so far (AdamW's `t` for the next one is `step + 1`).
    public var step = 0
    private let norm: Tensor
    private let clipScale: Tensor

    public init(parameters: [Parameter], backend: Backend, config: TrainConfig) throws {
        self.backend = backend
        self.parameters = parameters
        beta1 = Float(config.beta1)
        beta2 = Float(config.beta2)
        epsilon = Float(config.epsilon)
        weightDecay = Float(config.weightDecay)
        clipNorm = config.clipNorm.map { Float($0) }
        norm = try backend.makeTensor([1])
        clipScale = try backend.makeTensor([1])
    }

    /// The global L2 norm of the gradients (before clipping); also leaves the clip scale on the device.
    public func gradientNorm() throws -> Float {
        try backend.gradientNorm(parameters.map(\.grad), maxNorm: clipNorm ?? .infinity, norm: norm, clipScale: clipScale)
        return try backend.read(norm)[0]
    }

    /// Applies one AdamW update with learning rate `lr`, the gradients scaled by the clip scale
    /// from the last `gradientNorm()` call.
    public func apply(learningRate lr: Double) throws {
        step += 1
        let p = AdamWParameters(learningRate: Float(lr), beta1: beta1, beta2: beta2, epsilon: epsilon,
                                weightDecay: weightDecay, step: step)
        try backend.adamW(p, tensors: parameters.map { AdamWTensors(parameter: $0.value, gradient: $0.grad, m: $0.m, v: $0.v) },
                          gradientScale: clipScale)
    }

    /// The first parameter whose gradient holds a NaN or ±Inf, with the element index and value
    /// (reads every gradient back: only for the failure path).
    public func firstNonFiniteGradient() throws -> (name: String, index: Int, value: Float)? {
        for parameter in parameters {
            let g = try backend.read(parameter.grad)
            if let i = g.firstIndex(where: { !$0.isFinite }) { return (parameter.name, i, g[i]) }
        }
        return nil
    }
}
