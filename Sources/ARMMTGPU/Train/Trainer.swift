import Foundation

/// How one training process runs (not part of the run config: it does not change the result).
public struct TrainOptions {
    /// `RUN_DIR`: config.json, metrics.jsonl, last.safetensors, best.safetensors.
    public var runDirectory: String
    /// Continue from `RUN_DIR/last.safetensors` (config and schema must match it).
    public var resume = false
    /// Recorded in checkpoints so `--resume` can find the data again.
    public var dataDirectory: String? = nil
    /// Stop (after saving `last`) once this many epochs / steps are done, as an interruption
    /// would; the run resumes from there.
    public var stopAfterEpochs: Int? = nil
    public var stopAfterSteps: Int? = nil
    public var log: TrainLog = SilentTrainLog()

    public init(runDirectory: String, resume: Bool = false, dataDirectory: String? = nil, log: TrainLog = SilentTrainLog()) {
        self.runDirectory = runDirectory
        self.resume = resume
        self.dataDirectory = dataDirectory
        self.log = log
    }
}

/// What a finished (or interrupted) `Trainer.run()` reports.
public struct TrainSummary: Sendable {
    public var steps: Int
    public var totalSteps: Int
    public var epochsCompleted: Int
    public var finished: Bool
    public var stoppedEarly: Bool
    public var bestMetric: Double?
    public var bestStep: Int?
    public var skippedBatches: Int
    /// Mean training loss over the last epoch's processed batches (nil when none ran).
    public var lastLoss: Float?
    public var lastEvaluation: EvaluationResult?
}

/// The training loop: shuffled batches of the train split, clipping + AdamW with a warm-up and
/// cosine schedule, evaluation with early stopping, metrics.jsonl, checkpoints, exact resume.
///
/// Determinism: the permutation of epoch e is drawn from one seeded RNG whose state at the start
/// of the epoch is in every checkpoint, so a resumed run replays the same batches; on a
/// deterministic backend (CPU), a run interrupted and resumed ends with the same bits as one
/// that was not.
public final class Trainer {
    public let config: RunConfig
    public let dataset: Dataset
    public let model: TrainableModel
    public let options: TrainOptions
    public let optimizer: AdamWOptimizer
    public let trainSplit: DatasetSplit
    public let validSplit: DatasetSplit?
    public let schedule: LearningRateSchedule
    public let batchesPerEpoch: Int
    public let selection: SelectionMetric
    public let selectionTarget: String
    public private(set) var state: TrainingState
    private let metricsLog: MetricsLog

    public var lastPath: String { options.runDirectory + "/last.safetensors" }
    public var bestPath: String { options.runDirectory + "/best.safetensors" }
    public var configPath: String { options.runDirectory + "/config.json" }
    public var totalSteps: Int { schedule.totalSteps }

    /// Builds the model from `config` (or takes `model`, built elsewhere for the same config),
    /// prepares `RUN_DIR`, and with `options.resume` restores the last checkpoint.
    public init(config: RunConfig, dataset: Dataset, backend: Backend, options: TrainOptions, model: TrainableModel? = nil) throws {
        try config.validate()
        let config = try config.resolvingModelSwitches()
        let t = config.train
        self.config = config
        self.dataset = dataset
        self.options = options
        guard dataset.hasSplit(t.trainSplit) else {
            throw EngineError.usage("config: train.train_split '\(t.trainSplit)' is not a split of \(dataset.directory) (has \(dataset.splits.map(\.name).joined(separator: ", ")))")
        }
        trainSplit = try dataset.split(t.trainSplit)
        validSplit = dataset.hasSplit(t.validSplit) ? try dataset.split(t.validSplit) : nil
        selection = t.earlyStopping.selectionMetric!
        selectionTarget = t.earlyStopping.target ?? dataset.schema.mainTarget
        guard dataset.schema.targets.contains(selectionTarget) else {
            throw EngineError.usage("config: train.early_stopping.target '\(selectionTarget)' is not a target of the data set (has \(dataset.schema.targets.joined(separator: ", ")))")
        }
        batchesPerEpoch = (trainSplit.count + t.batchSize - 1) / t.batchSize
        schedule = LearningRateSchedule(peak: t.learningRate, warmupSteps: t.warmupSteps, totalSteps: t.epochs * batchesPerEpoch)
        let maxBatch = min(t.batchSize, max(trainSplit.count, validSplit?.count ?? 0))
        do {
            self.model = try model ?? ModelFactory.make(modelSection: config.modelSection, schema: dataset.schema, backend: backend, maxBatch: maxBatch)
        } catch let e as EngineError where e.kind == .runtime {
            // Activations are sized for the largest batch: say which, so the fix is obvious.
            throw EngineError.runtime("building the \(config.modelKind) model for batches of \(maxBatch) requests (train.batch_size \(t.batchSize)) on \(backend.name): \(e.message); try a smaller batch_size")
        }
        optimizer = try AdamWOptimizer(parameters: self.model.parameters, backend: self.model.backend, config: t)
        metricsLog = MetricsLog(path: options.runDirectory + "/metrics.jsonl")
        state = TrainingState(seed: t.seed)

        let fm = FileManager.default
        let dir = options.runDirectory
        if options.resume {
            let ck = try Checkpoint.open(lastPath)
            try ck.verify(config: config)
            try ck.verify(schema: dataset.schema)
            try ck.restore(into: self.model)
            state = ck.state
            optimizer.step = state.optimizerStep
            try metricsLog.truncate(afterStep: state.step)
        } else {
            if fm.fileExists(atPath: lastPath) {
                throw EngineError.usage("\(dir) already holds a run (last.safetensors); continue it with --resume \(dir) or choose another --out")
            }
            do {
                try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw EngineError.usage("\(dir): cannot create the run directory")
            }
            try? fm.removeItem(atPath: metricsLog.path)
            try? fm.removeItem(atPath: bestPath)
        }
        try AtomicFileWriter.write(Array(try config.encoded(pretty: true)) + [0x0A], to: configPath)
    }

    /// Trains until the last epoch, early stopping, or an `options.stopAfter…` point.
    @discardableResult
    public func run() throws -> TrainSummary {
        let t = config.train
        let log = options.log
        let items = dataset.items
        if state.finished || state.epoch >= t.epochs {
            log.message("run in \(options.runDirectory) is already complete (step \(state.step))")
            return summary(lastLoss: nil, evaluation: nil, stoppedEarly: false)
        }
        if validSplit == nil {
            log.message("no '\(t.validSplit)' split: no evaluation, no best.safetensors, no early stopping")
        }
        var batch = trainSplit.emptyBatch()
        let started = Date()
        let stepAtStart = state.step
        var requestsDone = 0
        var lossSum: Float = 0, lossCount = 0
        var perTargetSum = [Float](repeating: 0, count: dataset.schema.targets.count)
        var epochLossSum: Float = 0, epochLossCount = 0
        var lastEpochLoss: Float? = nil
        var lastNorm: Float = 0
        var lastEvaluation: EvaluationResult? = nil
        var stoppedEarly = false

        while state.epoch < t.epochs {
            var rng = state.rng
            let order = Self.permutation(trainSplit.count, &rng)
            var stop = false
            for b in state.epochPosition..<batchesPerEpoch {
                let requests = Array(order[(b * t.batchSize)..<min(trainSplit.count, (b + 1) * t.batchSize)])
                try trainSplit.fill(&batch, requests: requests)
                let loss = try model.computeGradients(batch, items: items)
                let norm = try optimizer.gradientNorm()
                let stepNumber = state.step + 1
                let lr = schedule.rate(at: state.optimizerStep)
                if !loss.total.isFinite || !norm.isFinite {
                    if !t.skipNonfiniteBatches {
                        throw try nonFiniteError(step: stepNumber, epoch: state.epoch, batchIndex: b, loss: loss, norm: norm)
                    }
                    state.skippedBatches += 1
                    log.message("step \(stepNumber): skipped a batch with \(loss.total.isFinite ? "gradient norm \(norm)" : "loss \(loss.total)") (\(state.skippedBatches) skipped so far)")
                } else {
                    try optimizer.apply(learningRate: lr)
                    state.optimizerStep = optimizer.step
                    lastNorm = norm
                    lossSum += loss.total
                    lossCount += 1
                    epochLossSum += loss.total
                    epochLossCount += 1
                    for (i, v) in loss.perTarget.enumerated() where i < perTargetSum.count { perTargetSum[i] += v }
                }
                state.step = stepNumber
                state.epochPosition = b + 1
                requestsDone += requests.count
                let epochEnd = b + 1 == batchesPerEpoch
                if epochEnd {
                    state.epoch += 1
                    state.epochPosition = 0
                    state.rng = rng
                    lastEpochLoss = epochLossCount > 0 ? epochLossSum / Float(epochLossCount) : nil
                    epochLossSum = 0
                    epochLossCount = 0
                }

                let elapsed = Date().timeIntervalSince(started)
                let rate = elapsed > 0 ? Double(requestsDone) / elapsed : 0
                let stepsDone = state.step - stepAtStart
                let eta = stepsDone > 0 ? elapsed / Double(stepsDone) * Double(totalSteps - state.step) : .infinity
                log.progress(TrainProgress(step: state.step, totalSteps: totalSteps, epoch: epochEnd ? state.epoch - 1 : state.epoch,
                                           epochs: t.epochs, loss: lossCount > 0 ? lossSum / Float(lossCount) : .nan,
                                           learningRate: lr, requestsPerSecond: rate, eta: eta, reportEvery: t.logEvery))
                if state.step % t.logEvery == 0 || state.step == totalSteps {
                    var line: [String: Any] = [
                        "type": "train", "step": state.step, "epoch": Double(state.step) / Double(batchesPerEpoch),
                        "lr": lr, "grad_norm": Double(lastNorm), "requests_per_s": rate, "skipped_batches": state.skippedBatches,
                    ]
                    if lossCount > 0 {
                        line["loss"] = Double(lossSum / Float(lossCount))
                        line["per_target"] = Dictionary(uniqueKeysWithValues: dataset.schema.targets.enumerated().map {
                            ($1, Double(perTargetSum[$0] / Float(lossCount)))
                        })
                    }
                    try metricsLog.append(line)
                    lossSum = 0
                    lossCount = 0
                    perTargetSum = perTargetSum.map { _ in 0 }
                }

                if epochEnd {
                    var line = MemoryUsage.sample(model.backend).jsonFields
                    line["type"] = "memory"
                    line["step"] = state.step
                    line["epoch"] = state.epoch
                    try metricsLog.append(line)
                }

                let evalDue = t.evalEvery.map { state.step % $0 == 0 || state.step == totalSteps } ?? epochEnd
                if evalDue, let validSplit {
                    let result = try Evaluator.evaluate(model: model, split: validSplit, items: items, batchSize: t.batchSize)
                    lastEvaluation = result
                    // Patience running out at the run's last step is no early stop: every epoch ran.
                    stop = try record(result) && state.step < totalSteps
                    stoppedEarly = stop
                }
                let last = state.step == totalSteps
                if stop || last { state.finished = true }
                let interrupted = options.stopAfterSteps.map { state.step >= $0 } == true
                    || (epochEnd && options.stopAfterEpochs.map { state.epoch >= $0 } == true)
                if state.step % t.checkpointEvery == 0 || epochEnd || stop || interrupted {
                    try Checkpoint.save(to: lastPath, model: model, state: state, config: config, schema: dataset.schema,
                                        dataDirectory: options.dataDirectory)
                }
                if stop {
                    log.message("early stop at step \(state.step): no \(selection) improvement on '\(selectionTarget)' in \(state.evalsWithoutImprovement) evaluations (best \(state.bestMetric.map { String(format: "%.5f", $0) } ?? "-") at step \(state.bestStep ?? 0))")
                }
                if stop || interrupted {
                    log.finish()
                    return summary(lastLoss: lastEpochLoss, evaluation: lastEvaluation, stoppedEarly: stoppedEarly)
                }
            }
        }
        log.finish()
        return summary(lastLoss: lastEpochLoss, evaluation: lastEvaluation, stoppedEarly: stoppedEarly)
    }

    /// Records an evaluation: metrics.jsonl, best checkpoint, patience. Returns whether to stop.
    private func record(_ result: EvaluationResult) throws -> Bool {
        let value = result.metrics(for: selectionTarget).flatMap { selection.value(in: $0) }
        let improved = selection.improves(value, over: state.bestMetric)
        if improved {
            state.bestMetric = value
            state.bestStep = state.step
            state.evalsWithoutImprovement = 0
        } else {
            state.evalsWithoutImprovement += 1
        }
        var line = result.jsonObject()
        line["type"] = "eval"
        line["step"] = state.step
        line["epoch"] = Double(state.step) / Double(batchesPerEpoch)
        line["selection"] = ["metric": selection.description, "target": selectionTarget, "value": value.map { $0 as Any } ?? NSNull(),
                             "best": state.bestMetric.map { $0 as Any } ?? NSNull(), "improved": improved] as [String: Any]
        try metricsLog.append(line)
        let m = result.metrics(for: selectionTarget)
        options.log.message(String(format: "eval step %d: %@ %@ = %@%@  (auc %@, ndcg@10 %@)", state.step, selectionTarget, selection.description,
                                   value.map { String(format: "%.5f", $0) } ?? "-", improved ? " *best*" : "",
                                   m?.auc.map { String(format: "%.4f", $0) } ?? "-", m?.ndcg.value(at: 10).map { String(format: "%.4f", $0) } ?? "-"))
        if improved {
            try Checkpoint.save(to: bestPath, model: model, state: state, config: config, schema: dataset.schema,
                                dataDirectory: options.dataDirectory)
        }
        if let p = config.train.earlyStopping.patience, state.evalsWithoutImprovement >= p { return true }
        return false
    }

    /// The error for a non-finite loss or gradient norm: the step, and the first non-finite
    /// gradient tensor (read back only now). The last checkpoint is not touched.
    private func nonFiniteError(step: Int, epoch: Int, batchIndex: Int, loss: LossReport, norm: Float) throws -> EngineError {
        let what = loss.total.isFinite ? "gradient norm is \(norm)" : "loss is \(loss.total)"
        let tensor: String
        if let g = try optimizer.firstNonFiniteGradient() {
            tensor = "first non-finite tensor: \(g.name).grad (element \(g.index) = \(g.value))"
        } else {
            tensor = "first non-finite tensor: loss (every gradient is finite)"
        }
        let kept = FileManager.default.fileExists(atPath: lastPath) ? "\(lastPath) is left as it was" : "no checkpoint was written"
        return EngineError.runtime("step \(step) (epoch \(epoch + 1), batch \(batchIndex + 1)): \(what); \(tensor); training stopped, \(kept); set train.skip_nonfinite_batches to skip such batches")
    }

    private func summary(lastLoss: Float?, evaluation: EvaluationResult?, stoppedEarly: Bool) -> TrainSummary {
        TrainSummary(steps: state.step, totalSteps: totalSteps, epochsCompleted: state.epoch, finished: state.finished,
                     stoppedEarly: stoppedEarly, bestMetric: state.bestMetric, bestStep: state.bestStep,
                     skippedBatches: state.skippedBatches, lastLoss: lastLoss, lastEvaluation: evaluation)
    }

    /// A Fisher–Yates permutation of `0..<n` drawn from `rng`.
    public static func permutation(_ n: Int, _ rng: inout SeededRandom) -> [Int] {
        var order = Array(0..<n)
        if n < 2 { return order }
        for i in stride(from: n - 1, to: 0, by: -1) {
            order.swapAt(i, rng.index(i + 1))
        }
        return order
    }
}
