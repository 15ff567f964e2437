import ARMMTGPU
import ArgumentParser
import Foundation

/// `armmt-gpu eval`: a checkpoint's metrics on one split (and the oracle's, when stored).
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on a split: AUC, GAUC, NDCG@{1,3,5,10}, MRR and log loss per target.")

    @Option(name: .long, help: "Checkpoint (.safetensors) written by train.") var checkpoint: String
    @Option(name: .long, help: "Data set directory (default: the one the checkpoint was trained on).") var data: String?
    @Option(name: .long, help: "Split to evaluate.") var split = "test"
    @Option(name: .long, help: "Requests per batch (default: the run's batch size).") var batchSize: Int?
    @OptionGroup var device: DeviceOptions
    @Flag(name: .long, help: "Print JSON instead of a table.") var json = false

    func run() throws {
        let ck = try Checkpoint.open(checkpoint)
        guard let dir = data ?? ck.dataDirectory else { throw EngineError.usage("\(checkpoint): records no data set; pass --data") }
        let dataset = try Dataset(directory: dir)
        let s = try dataset.split(split)
        let bs = batchSize ?? ck.config.train.batchSize
        guard bs >= 1 else { throw EngineError.usage("--batch-size must be >= 1 (got \(bs))") }
        let model = try ck.loadModel(for: dataset, backend: try device.selector().makeBackend(), maxBatch: bs)
        let result = try Evaluator.evaluate(model: model, split: s, items: dataset.items, batchSize: bs)
        if json {
            var o = result.jsonObject()
            o["checkpoint"] = checkpoint
            o["step"] = ck.state.step
            print(String(decoding: try ConfigJSON.canonical(o, pretty: true), as: UTF8.self))
        } else {
            print("checkpoint \(checkpoint) (step \(ck.state.step), \(ck.modelKind))")
            print(result.text())
        }
    }
}
