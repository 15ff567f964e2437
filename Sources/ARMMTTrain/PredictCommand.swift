import ARMMTGPU
import ArgumentParser
import Foundation

/// `armmt-gpu predict`: a checkpoint's scores for every valid candidate of a split, as CSV.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Score a split with a checkpoint: one CSV row per valid candidate, in input order.",
        discussion: "Columns: request (or request_id), position (0-based slot), one logit per target; with --explain the CAFU weights of the item and personalized units per modality.")

    @Option(name: .long, help: "Checkpoint (.safetensors) written by train.") var checkpoint: String
    @Option(name: .long, help: "Data set directory (default: the one the checkpoint was trained on).") var data: String?
    @Option(name: .long, help: "Split to score.") var split: String
    @Option(name: .long, help: "Output CSV file.") var out: String
    @Option(name: .long, help: "Requests per batch (default: the run's batch size).") var batchSize: Int?
    @Flag(name: .long, help: "Add the CAFU modality weights (alpha) of both units, when the model has them.") var explain = false
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let ck = try Checkpoint.open(checkpoint)
        guard let dir = data ?? ck.dataDirectory else { throw EngineError.usage("\(checkpoint): records no data set; pass --data") }
        let dataset = try Dataset(directory: dir)
        let s = try dataset.split(split)
        let bs = batchSize ?? ck.config.train.batchSize
        guard bs >= 1 else { throw EngineError.usage("--batch-size must be >= 1 (got \(bs))") }
        let model = try ck.loadModel(for: dataset, backend: try device.selector().makeBackend(), maxBatch: bs)
        let rows = try Predictor.writeCSV(model: model, split: s, items: dataset.items, batchSize: bs, to: out, explain: explain)
        print("wrote \(rows) rows to \(out)")
    }
}
