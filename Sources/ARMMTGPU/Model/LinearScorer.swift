import Foundation

/// The `"kind": "linear"` model section: `{"kind": "linear", "seed": 1}`.
public struct LinearScorerConfig: Codable, Sendable, Equatable {
    public var kind = "linear"
    /// Seeds the initialisation (the run config fills it from `train.seed` when absent).
    public var seed: UInt64 = 1

    public init(seed: UInt64 = 1) { self.seed = seed }

    enum CodingKeys: String, CodingKey, CaseIterable { case kind, seed }

    public init(from decoder: Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self, section: "model")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "linear"
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
        guard kind == "linear" else { throw EngineError.usage("config: model.kind is \"\(kind)\", expected \"linear\"") }
    }
}

/// A small, real baseline: one linear layer scoring each candidate from its own features.
///
/// For candidate slot k of request b, with `x = list_features[b, k] ⊕ dense(item[b, k])` (width
/// `F = F_l + F_d`): `logits[b, k, t] = Σ_f x_f · W[t, f] + bias[t]` (`linear.weight` `[T, F]`,
/// `linear.bias` `[T]`, PyTorch `nn.Linear` layout and initialisation `U(−1/√F, 1/√F)`). A data
/// set with neither list features nor dense columns (F = 0) is refused: there is nothing to score.
///
/// Loss: `L = (1/T) Σ_t L_t`, `L_t` the masked mean BCE-with-logits over valid candidates
/// (`backend.bceWithLogits` with weights 1/T). Backward on the device:
/// `dW = dLogitsᵀ · X` (GEMM), `dBias = Σ_rows dLogits` (`sumGroups`).
///
/// Every buffer is sized for `maxBatch` requests once; a smaller batch fills the leading rows
/// and leaves the rest as zero features with mask 0, so padded rows add nothing to the loss,
/// the gradients or the predictions that are read back.
public final class LinearScorer: TrainableModel {
    public let backend: Backend
    public let parameters: [Parameter]
    public let targetCount: Int
    public let config: LinearScorerConfig
    public let maxBatch: Int
    public let kMax: Int
    public let listFeatureCount: Int
    public let denseCount: Int
    public var featureCount: Int { listFeatureCount + denseCount }

    let weight: Parameter
    let bias: Parameter
    private let rows: Int
    private let x: Tensor
    private let logits: Tensor
    private let labels: Tensor
    private let mask: Tensor
    private let lossWeights: Tensor
    private let losses: Tensor
    private let dLogits: Tensor
    private var hostX: [Float]
    private var hostLabels: [Float]
    private var hostMask: [Float]

    public init(config: LinearScorerConfig = LinearScorerConfig(), schema: DatasetSchema, backend: Backend, maxBatch: Int) throws {
        guard maxBatch >= 1 else { throw EngineError.usage("linear model: maxBatch \(maxBatch) must be >= 1") }
        self.backend = backend
        self.config = config
        self.maxBatch = maxBatch
        kMax = schema.dims.kMax
        listFeatureCount = schema.listFeatures.count
        denseCount = schema.itemDense.count
        targetCount = schema.targets.count
        let f = listFeatureCount + denseCount, t = targetCount
        guard f > 0 else {
            throw EngineError.usage("linear model: the data set has no list features and no item dense columns; the linear scorer needs at least one")
        }
        var rng = SeededRandom(seed: config.seed)
        let bound = 1 / Double(f).squareRoot()
        weight = try Parameter(name: "linear.weight", shape: [t, f], backend: backend, initial: rng.floats(t * f, -bound, bound))
        bias = try Parameter(name: "linear.bias", shape: [t], backend: backend, initial: rng.floats(t, -bound, bound))
        parameters = [weight, bias]
        rows = maxBatch * kMax
        x = try backend.makeTensor([rows, f])
        logits = try backend.makeTensor([rows, t])
        labels = try backend.makeTensor([rows, t])
        mask = try backend.makeTensor([rows])
        lossWeights = try backend.tensor([Float](repeating: 1 / Float(t), count: t), shape: [t])
        losses = try backend.makeTensor([t])
        dLogits = try backend.makeTensor([rows, t])
        hostX = [Float](repeating: 0, count: rows * f)
        hostLabels = [Float](repeating: 0, count: rows * t)
        hostMask = [Float](repeating: 0, count: rows)
    }

    /// Uploads features, labels and mask of `batch`, zero-padded to `maxBatch` requests.
    private func upload(_ batch: Batch, items: ItemTable, labelsToo: Bool) throws {
        guard batch.size <= maxBatch else {
            throw EngineError.usage("linear model: batch of \(batch.size) requests, the model was built for at most \(maxBatch)")
        }
        guard batch.kMax == kMax, batch.listFeatureCount == listFeatureCount, batch.targetCount == targetCount,
              items.denseCount == denseCount else {
            throw EngineError.usage("linear model: batch has K_max \(batch.kMax), \(batch.listFeatureCount) list features, \(batch.targetCount) targets and \(items.denseCount) dense columns; the model expects \(kMax), \(listFeatureCount), \(targetCount), \(denseCount)")
        }
        let n = batch.size * kMax, f = featureCount, fl = listFeatureCount, fd = denseCount, t = targetCount
        let dense = items.gatherDense(batch.candidates)
        for r in 0..<rows {
            let valid = r < n && batch.candidateMask[r] > 0
            hostMask[r] = valid ? 1 : 0
            for j in 0..<fl { hostX[r * f + j] = valid ? batch.listFeatures[r * fl + j] : 0 }
            for j in 0..<fd { hostX[r * f + fl + j] = valid ? dense[r * fd + j] : 0 }
            if labelsToo { for j in 0..<t { hostLabels[r * t + j] = valid ? batch.labels[r * t + j] : 0 } }
        }
        try backend.write(hostX, to: x)
        try backend.write(hostMask, to: mask)
        if labelsToo { try backend.write(hostLabels, to: labels) }
    }

    private func forward() throws {
        try backend.gemm(GemmParameters(m: rows, n: targetCount, k: featureCount, transB: true),
                         a: x, b: weight.value, c: logits, bias: bias.value)
    }

    public func computeGradients(_ batch: Batch, items: ItemTable) throws -> LossReport {
        try upload(batch, items: items, labelsToo: true)
        try forward()
        try backend.bceWithLogits(logits: logits, labels: labels, labelColumn: 0, rowMask: mask, weights: lossWeights,
                                  losses: losses, dLogits: dLogits)
        let f = featureCount, t = targetCount
        try backend.gemm(GemmParameters(m: t, n: f, k: rows, transA: true), a: dLogits, b: x, c: weight.grad, bias: nil)
        try backend.sumGroups(GroupSum(groups: 1, groupSize: rows, cols: t), from: dLogits, to: bias.grad)
        let perTarget = try backend.read(losses)
        let main = perTarget.reduce(0, +) / Float(t)
        return LossReport(total: main, main: main, aux: 0, perTarget: perTarget)
    }

    public func predict(_ batch: Batch, items: ItemTable) throws -> Prediction {
        try upload(batch, items: items, labelsToo: false)
        try forward()
        let all = try backend.read(logits)
        return Prediction(logits: Array(all[0..<(batch.size * kMax * targetCount)]))
    }
}
