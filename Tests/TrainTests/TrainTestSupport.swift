@testable import ARMMTGPU
import Foundation
import XCTest

/// Shared by the trainer and checkpoint tests: one small synthetic data set per process, run
/// configs for the linear model, and byte-level checkpoint comparisons.
enum TrainTestSupport {
    static func synthConfig(kMax: Int = 6) -> SynthConfig {
        var c = SynthConfig()
        c.trainRequests = 120
        c.validRequests = 40
        c.testRequests = 30
        c.items = 80
        c.users = 20
        c.categories = 4
        c.kMax = kMax
        c.lMax = 3
        c.textDim = 4
        c.imageDim = 4
        c.queryDim = 4
        c.seed = 11
        return c
    }

    nonisolated(unsafe) private static var cached: [Int: String] = [:]

    /// A synthetic data set (generated once per process and K_max).
    static func dataset(kMax: Int = 6) throws -> Dataset {
        if let dir = cached[kMax] { return try Dataset(directory: dir) }
        let dir = try DataTestSupport.temporaryDirectory("train-data-k\(kMax)")
        try SynthGenerator.generate(synthConfig(kMax: kMax), into: dir)
        cached[kMax] = dir
        return try Dataset(directory: dir)
    }

    static func config(epochs: Int = 2, batchSize: Int = 16, _ edit: (inout TrainConfig) -> Void = { _ in }) -> RunConfig {
        var t = TrainConfig()
        t.epochs = epochs
        t.batchSize = batchSize
        t.learningRate = 0.05
        t.logEvery = 1
        t.checkpointEvery = 3
        t.seed = 7
        edit(&t)
        return RunConfig(model: ["kind": "linear"], train: t)
    }

    static func runDirectory(_ tag: String) throws -> String {
        try DataTestSupport.temporaryDirectory("run-\(tag)")
    }

    static func trainer(_ config: RunConfig, _ data: Dataset, _ dir: String, resume: Bool = false,
                        model: TrainableModel? = nil, _ edit: (inout TrainOptions) -> Void = { _ in }) throws -> Trainer {
        var o = TrainOptions(runDirectory: dir, resume: resume, dataDirectory: data.directory)
        edit(&o)
        return try Trainer(config: config, dataset: data, backend: CPUBackend(), options: o, model: model)
    }

    /// Every tensor of a safetensors file by name, as raw bytes.
    static func tensorBytes(_ path: String) throws -> [String: [UInt8]] {
        let f = try SafeTensorsFile(path: path)
        var out: [String: [UInt8]] = [:]
        for n in f.names { out[n] = Array(try f.rawBytes(n)) }
        return out
    }

    static func fileBytes(_ path: String) throws -> [UInt8] {
        Array(try XCTUnwrap(FileManager.default.contents(atPath: path)))
    }
}

/// A model that puts a NaN into one list feature of the batch of call `nanAtCall` (1-based),
/// as a corrupt feature pipeline would, and otherwise is `inner`.
final class NaNInjectingModel: TrainableModel {
    let inner: TrainableModel
    let nanAtCall: Int
    private(set) var calls = 0

    init(_ inner: TrainableModel, nanAtCall: Int) {
        self.inner = inner
        self.nanAtCall = nanAtCall
    }

    var backend: Backend { inner.backend }
    var parameters: [Parameter] { inner.parameters }
    var targetCount: Int { inner.targetCount }

    func computeGradients(_ batch: Batch, items: ItemTable) throws -> LossReport {
        calls += 1
        guard calls == nanAtCall else { return try inner.computeGradients(batch, items: items) }
        var b = batch
        let slot = b.candidateMask.firstIndex(of: 1)!
        b.listFeatures[slot * b.listFeatureCount] = .nan
        return try inner.computeGradients(b, items: items)
    }

    func predict(_ batch: Batch, items: ItemTable) throws -> Prediction { try inner.predict(batch, items: items) }
}
