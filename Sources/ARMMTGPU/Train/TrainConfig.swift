import Foundation

/// The metric that picks `best.safetensors` and drives early stopping.
public enum SelectionMetric: Equatable, Sendable, CustomStringConvertible {
    case auc, gauc, mrr, loss
    case ndcg(Int)

    public static let names = ["auc", "gauc", "mrr", "loss"] + RankingMetrics.defaultCutoffs.map { "ndcg@\($0)" }

    public init?(name: String) {
        switch name.lowercased() {
        case "auc": self = .auc
        case "gauc": self = .gauc
        case "mrr": self = .mrr
        case "loss", "logloss", "log_loss": self = .loss
        default:
            let n = name.lowercased()
            guard n.hasPrefix("ndcg@"), let k = Int(n.dropFirst(5)), RankingMetrics.defaultCutoffs.contains(k) else { return nil }
            self = .ndcg(k)
        }
    }

    public var description: String {
        switch self {
        case .auc: return "auc"
        case .gauc: return "gauc"
        case .mrr: return "mrr"
        case .loss: return "loss"
        case .ndcg(let k): return "ndcg@\(k)"
        }
    }

    /// Loss falls as the model improves; every other metric rises.
    public var higherIsBetter: Bool { self != .loss }

    /// The metric's value in `m` (nil when it is undefined there, e.g. AUC with one class).
    public func value(in m: TargetMetrics) -> Double? {
        switch self {
        case .auc: return m.auc
        case .gauc: return m.gauc
        case .mrr: return m.mrr
        case .loss: return m.logLoss
        case .ndcg(let k): return m.ndcg.value(at: k)
        }
    }

    /// Whether `candidate` beats `best` (nil best: anything defined does).
    public func improves(_ candidate: Double?, over best: Double?) -> Bool {
        guard let c = candidate, c.isFinite else { return false }
        guard let b = best else { return true }
        return higherIsBetter ? c > b : c < b
    }
}

/// `train.early_stopping`: which metric on which target selects the best checkpoint, and how
/// many evaluations without improvement stop training (`patience: null`: never stop early).
public struct EarlyStoppingConfig: Codable, Equatable, Sendable {
    public var metric = "auc"
    /// A target name; nil: the data set's main target.
    public var target: String? = nil
    public var patience: Int? = 5

    public init(metric: String = "auc", target: String? = nil, patience: Int? = 5) {
        self.metric = metric
        self.target = target
        self.patience = patience
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case metric, target, patience }

    public init(from decoder: Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self, section: "train.early_stopping")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metric = try c.decodeIfPresent(String.self, forKey: .metric) ?? "auc"
        target = try c.decodeIfPresent(String.self, forKey: .target)
        patience = c.contains(.patience) ? try c.decodeIfPresent(Int.self, forKey: .patience) : 5
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(metric, forKey: .metric)
        try c.encode(target, forKey: .target)
        try c.encode(patience, forKey: .patience)
    }

    public var selectionMetric: SelectionMetric? { SelectionMetric(name: metric) }
}

/// The `"train"` section of a run config (snake_case keys; unknown keys are refused).
///
/// Absent keys take the defaults below; `clip_norm`, `eval_every` and `early_stopping.patience`
/// may be `null` (no clipping, evaluate once per epoch, never stop early).
public struct TrainConfig: Codable, Equatable, Sendable {
    /// Peak AdamW learning rate. 6e-3: on the default synthetic data the default ARMMT model
    /// reached a higher validation AUC with it than with 1e-3 in every seed (RESULTS.md).
    public var learningRate: Double = 6e-3
    /// Requests per batch (the last batch of an epoch may be smaller).
    public var batchSize: Int = 128
    public var epochs: Int = 10
    /// Linear warm-up steps; then cosine decay to 0 at the end of the run.
    public var warmupSteps: Int = 0
    public var weightDecay: Double = 0.01
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    /// Global gradient-norm clip; nil: none.
    public var clipNorm: Double? = 1.0
    /// Evaluate on the validation split every this many steps; nil: at the end of each epoch.
    public var evalEvery: Int? = nil
    public var earlyStopping = EarlyStoppingConfig()
    /// Seeds shuffling (and the model's initialisation when its section has no seed).
    public var seed: UInt64 = 1
    /// A `metrics.jsonl` training line (and a plain progress line off a terminal) every this many steps.
    public var logEvery: Int = 50
    /// `last.safetensors` every this many steps, and at the end of every epoch.
    public var checkpointEvery: Int = 500
    /// Skip (and count) a batch whose loss or gradient norm is not finite instead of stopping.
    public var skipNonfiniteBatches = false
    public var trainSplit = "train"
    public var validSplit = "valid"

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case learningRate = "learning_rate"
        case batchSize = "batch_size"
        case epochs
        case warmupSteps = "warmup_steps"
        case weightDecay = "weight_decay"
        case beta1, beta2, epsilon
        case clipNorm = "clip_norm"
        case evalEvery = "eval_every"
        case earlyStopping = "early_stopping"
        case seed
        case logEvery = "log_every"
        case checkpointEvery = "checkpoint_every"
        case skipNonfiniteBatches = "skip_nonfinite_batches"
        case trainSplit = "train_split"
        case validSplit = "valid_split"
    }

    public init(from decoder: Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self, section: "train")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainConfig()
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? d.warmupSteps
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? d.weightDecay
        beta1 = try c.decodeIfPresent(Double.self, forKey: .beta1) ?? d.beta1
        beta2 = try c.decodeIfPresent(Double.self, forKey: .beta2) ?? d.beta2
        epsilon = try c.decodeIfPresent(Double.self, forKey: .epsilon) ?? d.epsilon
        // Absent: the default; explicit null: off.
        clipNorm = c.contains(.clipNorm) ? try c.decodeIfPresent(Double.self, forKey: .clipNorm) : d.clipNorm
        evalEvery = try c.decodeIfPresent(Int.self, forKey: .evalEvery)
        earlyStopping = try c.decodeIfPresent(EarlyStoppingConfig.self, forKey: .earlyStopping) ?? d.earlyStopping
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? d.logEvery
        checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? d.checkpointEvery
        skipNonfiniteBatches = try c.decodeIfPresent(Bool.self, forKey: .skipNonfiniteBatches) ?? d.skipNonfiniteBatches
        trainSplit = try c.decodeIfPresent(String.self, forKey: .trainSplit) ?? d.trainSplit
        validSplit = try c.decodeIfPresent(String.self, forKey: .validSplit) ?? d.validSplit
    }

    /// Every key, nulls included, so the resolved config shows each choice.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(warmupSteps, forKey: .warmupSteps)
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(beta1, forKey: .beta1)
        try c.encode(beta2, forKey: .beta2)
        try c.encode(epsilon, forKey: .epsilon)
        try c.encode(clipNorm, forKey: .clipNorm)
        try c.encode(evalEvery, forKey: .evalEvery)
        try c.encode(earlyStopping, forKey: .earlyStopping)
        try c.encode(seed, forKey: .seed)
        try c.encode(logEvery, forKey: .logEvery)
        try c.encode(checkpointEvery, forKey: .checkpointEvery)
        try c.encode(skipNonfiniteBatches, forKey: .skipNonfiniteBatches)
        try c.encode(trainSplit, forKey: .trainSplit)
        try c.encode(validSplit, forKey: .validSplit)
    }

    /// Range checks; the first violation is thrown as one line naming the key.
    public func validate() throws {
        func bad(_ key: String, _ rule: String, _ got: CustomStringConvertible) -> EngineError {
            .usage("config: train.\(key) must be \(rule) (got \(got))")
        }
        guard learningRate.isFinite, learningRate > 0 else { throw bad("learning_rate", "> 0", learningRate) }
        guard batchSize >= 1 else { throw bad("batch_size", ">= 1", batchSize) }
        guard epochs >= 1 else { throw bad("epochs", ">= 1", epochs) }
        guard warmupSteps >= 0 else { throw bad("warmup_steps", ">= 0", warmupSteps) }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw bad("weight_decay", ">= 0", weightDecay) }
        guard beta1 >= 0, beta1 < 1 else { throw bad("beta1", "in [0, 1)", beta1) }
        guard beta2 >= 0, beta2 < 1 else { throw bad("beta2", "in [0, 1)", beta2) }
        guard epsilon.isFinite, epsilon > 0 else { throw bad("epsilon", "> 0", epsilon) }
        if let c = clipNorm, !(c.isFinite && c > 0) { throw bad("clip_norm", "> 0 or null", c) }
        if let e = evalEvery, e < 1 { throw bad("eval_every", ">= 1 or null (once per epoch)", e) }
        guard earlyStopping.selectionMetric != nil else {
            throw bad("early_stopping.metric", "one of \(SelectionMetric.names.joined(separator: ", "))", "\"\(earlyStopping.metric)\"")
        }
        if let p = earlyStopping.patience, p < 1 { throw bad("early_stopping.patience", ">= 1 or null (never stop early)", p) }
        guard logEvery >= 1 else { throw bad("log_every", ">= 1", logEvery) }
        guard checkpointEvery >= 1 else { throw bad("checkpoint_every", ">= 1", checkpointEvery) }
        guard !trainSplit.isEmpty else { throw bad("train_split", "a split name", "\"\"") }
    }
}
