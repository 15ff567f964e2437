import Foundation

/// What `armmt-gpu train` was asked for; `TrainLauncher` turns it into a run.
public struct TrainRequest {
    public var dataDirectory: String?
    public var configPath: String?
    public var runDirectory: String?
    public var resumeDirectory: String?
    public var epochs: Int?
    public var batchSize: Int?
    public var learningRate: Double?
    public var seed: UInt64?
    public var device: DeviceSelector = .auto
    /// Where the default synthetic data set is cached when there is no `dataDirectory`.
    public var dataCacheRoot: String = SyntheticDataCache.defaultRoot()

    public init() {}
}

/// The logic behind `armmt-gpu train`: config file + flag overrides, the default synthetic data
/// set, run directory and resume rules; then `Trainer`.
public enum TrainLauncher {
    public struct Plan {
        public var config: RunConfig
        public var dataDirectory: String
        public var runDirectory: String
        public var resume: Bool
    }

    /// Resolves config, data and run directory. On resume the config defaults to the
    /// checkpoint's; any difference (from a --config file or a flag) is refused by the trainer.
    public static func plan(_ r: TrainRequest, say: (String) -> Void = { _ in }) throws -> Plan {
        var config: RunConfig
        var data = r.dataDirectory
        let runDirectory: String
        if let resume = r.resumeDirectory {
            let ck = try Checkpoint.open(resume + "/last.safetensors")
            config = try r.configPath.map(RunConfig.load) ?? ck.config
            if let out = r.runDirectory, URL(fileURLWithPath: out).standardized.path != URL(fileURLWithPath: resume).standardized.path {
                throw EngineError.usage("--out \(out) and --resume \(resume) name different run directories; a resumed run continues in its own")
            }
            if data == nil {
                guard let d = ck.dataDirectory else {
                    throw EngineError.usage("\(resume): the checkpoint does not record its data set; pass --data")
                }
                data = d
            }
            runDirectory = resume
        } else {
            config = try r.configPath.map(RunConfig.load) ?? RunConfig()
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd-HHmmss"
            runDirectory = r.runDirectory ?? "runs/run-" + formatter.string(from: Date())
        }
        if let v = r.epochs { config.train.epochs = v }
        if let v = r.batchSize { config.train.batchSize = v }
        if let v = r.learningRate { config.train.learningRate = v }
        if let v = r.seed { config.setSeed(v) }
        try config.validate()
        // Before generating any data: a kind this build lacks fails now, not minutes later.
        guard ModelFactory.kinds.contains(config.modelKind) else {
            throw ModelFactory.unknownKind(config.modelKind)
        }
        if data == nil {
            data = try SyntheticDataCache.ensure(root: r.dataCacheRoot, log: say).directory
        }
        return Plan(config: config, dataDirectory: data!, runDirectory: runDirectory, resume: r.resumeDirectory != nil)
    }

    /// Plans, opens data and device, trains; prints a closing summary through `say`.
    @discardableResult
    public static func run(_ r: TrainRequest, log: TrainLog, say: (String) -> Void) throws -> TrainSummary {
        let plan = try plan(r, say: say)
        let dataset = try Dataset(directory: plan.dataDirectory)
        let backend = try r.device.makeBackend()
        var options = TrainOptions(runDirectory: plan.runDirectory, resume: plan.resume, dataDirectory: plan.dataDirectory, log: log)
        options.log = log
        let trainer = try Trainer(config: plan.config, dataset: dataset, backend: backend, options: options)
        say("training \(plan.config.modelKind) on \(plan.dataDirectory) (\(trainer.trainSplit.count) requests, \(trainer.batchesPerEpoch) batches/epoch, \(trainer.totalSteps) steps) with \(backend.name); run directory \(plan.runDirectory)\(plan.resume ? ", resuming at step \(trainer.state.step)" : "")")
        if let cl = backend as? OpenCLBackend {
            let writes = cl.context.stagesWrites ? "staged writes" : "blocking writes"
            let vectors = (trainer.model as? ARMMTModel)?.itemVectorPlacement(dataset.items).map { $0 + "; " } ?? ""
            say("\(backend.name): \(vectors)\(writes), \(DeviceTuning.stagedWritesVariable)")
        }
        let s = try trainer.run()
        var end = "done: step \(s.steps)/\(s.totalSteps)"
        if s.stoppedEarly { end += ", stopped early" }
        if let b = s.bestMetric { end += String(format: ", best %@ %@ %.5f at step %d", trainer.selectionTarget, trainer.selection.description, b, s.bestStep ?? 0) }
        if s.skippedBatches > 0 { end += ", \(s.skippedBatches) non-finite batches skipped" }
        say(end + "; checkpoints in \(plan.runDirectory)")
        return s
    }
}
