/// One trainable tensor with its gradient and AdamW moments, all on the model's backend.
///
/// `name` and `shape` follow PyTorch (`text_proj.weight`, Linear weights `[out, in]`), so a
/// checkpoint's tensors load into the equivalent `torch.nn.Module` by name.
public final class Parameter {
    public let name: String
    public let shape: [Int]
    public let value: Tensor
    /// Overwritten by each `computeGradients` call (not accumulated across calls).
    public let grad: Tensor
    public let m: Tensor
    public let v: Tensor

    public init(name: String, shape: [Int], backend: Backend, initial: [Float]) throws {
        precondition(initial.count == shape.reduce(1, *), "\(name): \(initial.count) initial values for shape \(shape)")
        self.name = name
        self.shape = shape
        value = try backend.tensor(initial, shape: shape)
        grad = try backend.makeTensor(shape)
        m = try backend.makeTensor(shape)
        v = try backend.makeTensor(shape)
        try backend.fill(grad, with: 0)
        try backend.fill(m, with: 0)
        try backend.fill(v, with: 0)
    }

    public var count: Int { shape.reduce(1, *) }
}

/// Losses of one training step, read back from the device (one small synchronisation a step).
public struct LossReport: Sendable, Equatable {
    /// `L_main + λ·L_aux`.
    public var total: Float
    public var main: Float
    public var aux: Float
    /// `L_t` per target (BCE or list-wise, as configured).
    public var perTarget: [Float]

    public init(total: Float, main: Float, aux: Float, perTarget: [Float]) {
        self.total = total
        self.main = main
        self.aux = aux
        self.perTarget = perTarget
    }
}

/// Inference output for a batch.
public struct Prediction: Sendable {
    /// Main-head logits `[B, K_max, T]` (padding slots hold whatever the network computed; use the batch mask).
    public var logits: [Float]
    /// CAFU weights of the item unit `[B, K_max, M]` (mean over dimensions for the vector gate), when the model has one.
    public var itemAlpha: [Float]?
    /// CAFU weights of the personalized unit `[B, K_max, M]`, when the model has one.
    public var personalAlpha: [Float]?
    /// Names of the M modalities in the alpha arrays, in order.
    public var modalityNames: [String]

    public init(logits: [Float], itemAlpha: [Float]? = nil, personalAlpha: [Float]? = nil, modalityNames: [String] = []) {
        self.logits = logits
        self.itemAlpha = itemAlpha
        self.personalAlpha = personalAlpha
        self.modalityNames = modalityNames
    }
}

/// What the trainer needs from a model: its parameters, gradients for a batch, predictions.
/// The optimizer (gradient norm, clipping, AdamW) lives in the trainer and works on
/// `parameters` directly, so every model trains the same way.
public protocol TrainableModel: AnyObject {
    var backend: Backend { get }
    /// Every trainable tensor, in a stable order (checkpoints and the optimizer rely on it).
    var parameters: [Parameter] { get }
    /// Number of targets T the main head predicts.
    var targetCount: Int { get }

    /// Forward and backward on one batch: writes every `Parameter.grad` and returns the losses.
    func computeGradients(_ batch: Batch, items: ItemTable) throws -> LossReport

    /// Forward only (no auxiliary head, nothing kept for a backward).
    func predict(_ batch: Batch, items: ItemTable) throws -> Prediction
}
