import Foundation

/// What `armmt-gpu bench train` runs: the data set's shape, the model, the optimizer and the
/// timing schedule. The defaults are the default training run (docs/TRAINING.md): the default
/// synthetic data set's shape (K = 32, L = 50, 20,000 items with 384-wide text and 512-wide
/// image vectors, its user and category vocabularies), the default `ModelConfig` (d = 64,
/// 4 heads), AdamW with clipping at 1, and batches of 256 requests.
public struct TrainBenchConfig: Sendable {
    /// The synthetic data set. Only its request count differs from `data synth`'s defaults
    /// (fewer requests: batches only need to be realistic, not many); the user vocabulary is
    /// pinned to the default data set's, so the embedding tables have the trained run's size.
    public var data: SynthConfig
    public var model = ModelConfig()
    public var train = TrainConfig()
    /// Requests per step.
    public var batchSize = 256
    /// Untimed steps first (first-touch, caches, kernel compilation).
    public var warmup = 3
    /// Timed steps; the median is reported.
    public var steps = 10

    public init() {
        var data = SynthConfig()
        data.users = data.resolvedUsers
        data.trainRequests = 2_048
        data.validRequests = 1
        data.testRequests = 1
        self.data = data
    }
}

/// One `bench train` result. Times are per step, in milliseconds, medians over the timed steps.
public struct TrainBenchResult: Codable, Sendable {
    public var device: String
    public var batch: Int
    public var kMax: Int
    public var lMax: Int
    public var width: Int
    public var heads: Int
    public var textDim: Int
    public var imageDim: Int
    public var items: Int
    public var parameters: Int
    public var warmup: Int
    public var steps: Int
    /// A whole step as the trainer runs it: batch assembly from the split, forward, losses,
    /// backward, gradient norm, clipping and the AdamW update.
    public var medianStepMs: Double
    public var minStepMs: Double
    /// Filling the `Batch` from the split (host).
    public var medianBatchMs: Double
    /// `computeGradients`: input upload, forward, losses, backward (the loss read-back syncs it).
    public var medianForwardBackwardMs: Double
    /// Gradient norm (read back), clipping and AdamW over every parameter, synchronized.
    public var medianOptimizerMs: Double
    /// Host-to-device writes per step and their bytes (medians; nil on the CPU backend, whose
    /// tensors are host memory). Each write waits for the device's queue.
    public var hostWritesPerStep: Int?
    public var hostWriteBytesPerStep: Int?
    /// Whether those writes were staged (`OpenCLUploadStaging`) or blocking; nil on the CPU backend.
    public var stagedWrites: Bool?
    /// Kernels enqueued per step (median; nil on the CPU backend).
    public var kernelLaunchesPerStep: Int?
    /// Bytes of the item table's vectors kept in device memory (`DeviceItemVectors`); nil when
    /// batches gather them on the host.
    public var itemVectorsOnDevice: Int?
    /// Loss of the last timed step.
    public var finalLoss: Float
    /// `batch / medianStepMs`.
    public var requestsPerS: Double

    enum CodingKeys: String, CodingKey {
        case device, batch, items, parameters, warmup, steps, width, heads
        case kMax = "k_max", lMax = "l_max", textDim = "text", imageDim = "image"
        case medianStepMs = "median_step_ms", minStepMs = "min_step_ms", medianBatchMs = "median_batch_ms"
        case medianForwardBackwardMs = "median_forward_backward_ms", medianOptimizerMs = "median_optimizer_ms"
        case hostWritesPerStep = "host_writes_per_step", hostWriteBytesPerStep = "host_write_bytes_per_step"
        case stagedWrites = "staged_writes", kernelLaunchesPerStep = "kernel_launches_per_step"
        case itemVectorsOnDevice = "item_vectors_on_device_bytes"
        case finalLoss = "final_loss", requestsPerS = "requests_per_s"
    }

    /// The plain-text report; `requests_per_s=<number>` is the last line.
    public var lines: [String] {
        [
            "device: \(device)",
            "config: B=\(batch) K=\(kMax) L=\(lMax) d=\(width) heads=\(heads) text=\(textDim) image=\(imageDim) items=\(items) params=\(parameters)",
            String(format: "step (batch+forward+backward+clip+AdamW): median %.2f ms, min %.2f ms over %d steps after %d warm-up; loss %.4f",
                   medianStepMs, minStepMs, steps, warmup, finalLoss),
            String(format: "parts (medians): batch %.2f ms, forward+backward %.2f ms, optimizer %.2f ms",
                   medianBatchMs, medianForwardBackwardMs, medianOptimizerMs),
        ] + transferLines + [
            String(format: "requests_per_s=%.1f", requestsPerS),
        ]
    }

    private var transferLines: [String] {
        guard let writes = hostWritesPerStep, let bytes = hostWriteBytesPerStep else { return [] }
        let vectors = itemVectorsOnDevice.map { "kept on the device (\(formatBytes(UInt64($0))))" } ?? "gathered on the host"
        let mode = stagedWrites == true ? "staged" : "blocking"
        let launches = kernelLaunchesPerStep.map { "\($0) kernel launches, " } ?? ""
        return ["device work per step (medians): \(launches)\(writes) \(mode) writes of \(formatBytes(UInt64(bytes))) from the host; "
                + "item vectors \(vectors)"]
    }

    /// One JSON object (keys sorted, snake case).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Times whole training steps the way `Trainer.run` takes them, on one backend.
public enum TrainBenchmark {
    /// Generates the synthetic data set into a temporary directory (removed afterwards), builds
    /// the ARMMT model and AdamW, and times `warmup + steps` steps over shuffled batches of the
    /// train split (a fresh permutation each pass, as epochs draw them).
    public static func run(_ c: TrainBenchConfig, backend: Backend, progress: ((String) -> Void)? = nil) throws -> TrainBenchResult {
        guard c.batchSize >= 1, c.steps >= 1, c.warmup >= 0 else {
            throw EngineError.usage("bench train: --batch-size and --steps must be >= 1 and --warmup >= 0 (got \(c.batchSize), \(c.steps), \(c.warmup))")
        }
        guard c.data.trainRequests >= c.batchSize else {
            throw EngineError.usage("bench train: the data set's \(c.data.trainRequests) requests do not fill a batch of \(c.batchSize)")
        }
        let directory = NSTemporaryDirectory() + "armmt-bench-train-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        progress?("generating the synthetic data set (\(c.data.trainRequests) requests, \(c.data.items) items)")
        try SynthGenerator.generate(c.data, into: directory)
        let dataset = try Dataset(directory: directory)
        let split = try dataset.split("train")
        let items = dataset.items

        progress?("building the model on \(backend.name)")
        let model = try ARMMTModel(config: c.model, schema: dataset.schema, backend: backend, maxBatch: c.batchSize)
        let optimizer = try AdamWOptimizer(parameters: model.parameters, backend: backend, config: c.train)
        let total = c.warmup + c.steps
        let schedule = LearningRateSchedule(peak: c.train.learningRate, warmupSteps: c.train.warmupSteps, totalSteps: total)

        var rng = SeededRandom(seed: c.train.seed)
        var order: [Int] = []
        var next = 0
        var batch = split.emptyBatch()
        var stepTimes: [Double] = [], batchTimes: [Double] = [], gradientTimes: [Double] = [], optimizerTimes: [Double] = []
        var lastLoss: Float = .nan
        let context = (backend as? OpenCLBackend)?.context, account = context?.memory
        var writeCounts: [Double] = [], writeBytes: [Double] = [], launchCounts: [Double] = []
        func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
        func ms(_ a: UInt64, _ b: UInt64) -> Double { Double(b - a) * 1e-6 }
        try backend.synchronize()
        for step in 0..<total {
            if next + c.batchSize > order.count {
                order = Trainer.permutation(split.count, &rng)
                next = 0
            }
            let requests = Array(order[next..<(next + c.batchSize)])
            next += c.batchSize
            let written = account?.hostWrites, launched = context?.kernelLaunches
            let t0 = now()
            try split.fill(&batch, requests: requests)
            let t1 = now()
            let loss = try model.computeGradients(batch, items: items)
            let t2 = now()
            let norm = try optimizer.gradientNorm()
            guard loss.total.isFinite, norm.isFinite else {
                throw EngineError.runtime("bench train: step \(step + 1) gave loss \(loss.total), gradient norm \(norm)")
            }
            try optimizer.apply(learningRate: schedule.rate(at: optimizer.step))
            try backend.synchronize()
            let t3 = now()
            if step >= c.warmup {
                stepTimes.append(ms(t0, t3))
                batchTimes.append(ms(t0, t1))
                gradientTimes.append(ms(t1, t2))
                optimizerTimes.append(ms(t2, t3))
                if let account, let written {
                    let after = account.hostWrites
                    writeCounts.append(Double(after.count - written.count))
                    writeBytes.append(Double(after.bytes - written.bytes))
                }
                if let context, let launched { launchCounts.append(Double(context.kernelLaunches - launched)) }
                lastLoss = loss.total
            }
            progress?(String(format: "step %d/%d%@: %.1f ms, loss %.4f", step + 1, total, step < c.warmup ? " (warm-up)" : "",
                             ms(t0, t3), loss.total))
        }
        func median(_ v: [Double]) -> Double {
            let s = v.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        let step = median(stepTimes)
        let s = model.shape
        return TrainBenchResult(device: backend.name, batch: c.batchSize, kMax: s.k, lMax: s.l, width: s.d, heads: s.heads,
                                textDim: s.textDim, imageDim: s.imageDim, items: items.count, parameters: model.parameterCount,
                                warmup: c.warmup, steps: c.steps, medianStepMs: step, minStepMs: stepTimes.min()!,
                                medianBatchMs: median(batchTimes), medianForwardBackwardMs: median(gradientTimes),
                                medianOptimizerMs: median(optimizerTimes),
                                hostWritesPerStep: writeCounts.isEmpty ? nil : Int(median(writeCounts)),
                                hostWriteBytesPerStep: writeBytes.isEmpty ? nil : Int(median(writeBytes)),
                                stagedWrites: context?.stagesWrites,
                                kernelLaunchesPerStep: launchCounts.isEmpty ? nil : Int(median(launchCounts)),
                                itemVectorsOnDevice: model.residentItemVectorBytes, finalLoss: lastLoss,
                                requestsPerS: Double(c.batchSize) / (step * 1e-3))
    }
}
