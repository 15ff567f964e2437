import ARMMTGPU
import ArgumentParser
import Foundation

/// `armmt-gpu train`: flags → `TrainRequest`; the work is `TrainLauncher` / `Trainer`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model; checkpoints, config.json and metrics.jsonl go to the run directory.",
        discussion: "Without --data, the default synthetic data set is generated once into a cache directory and reused. Flags override the config file.")

    @Option(name: .long, help: "Data set directory (default: the cached default synthetic data set).") var data: String?
    @OptionGroup var device: DeviceOptions
    @Option(name: .long, help: "Run config JSON: {\"model\": {...}, \"train\": {...}}.") var config: String?
    @Option(name: .long, help: "Run directory (default: runs/run-<date>-<time>).") var out: String?
    @Option(name: .long, help: "Continue the run in this directory from its last.safetensors.") var resume: String?
    @Option(name: .long, help: "Epochs (train.epochs).") var epochs: Int?
    @Option(name: .long, help: "Requests per batch (train.batch_size).") var batchSize: Int?
    @Option(name: .long, help: "Peak learning rate (train.learning_rate).") var learningRate: Double?
    @Option(name: .long, help: "Seed for shuffling and initialisation (train.seed).") var seed: UInt64?

    func run() throws {
        var r = TrainRequest()
        r.dataDirectory = data
        r.configPath = config
        r.runDirectory = out
        r.resumeDirectory = resume
        r.epochs = epochs
        r.batchSize = batchSize
        r.learningRate = learningRate
        r.seed = seed
        r.device = try device.selector()
        let log = ConsoleTrainLog()
        try TrainLauncher.run(r, log: log) { log.message($0) }
    }
}
