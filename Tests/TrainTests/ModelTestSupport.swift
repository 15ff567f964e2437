@testable import ARMMTGPU
import Foundation
import XCTest

/// A tiny synthetic data set (d=8-sized models train on it in milliseconds) shared by the model
/// tests, made once per test process.
final class TinyModelData {
    static let shared: TinyModelData = {
        do { return try TinyModelData() } catch { fatalError("tiny data set: \(error)") }
    }()

    let directory: String
    let dataset: Dataset
    let train: DatasetSplit

    private init() throws {
        directory = try DataTestSupport.temporaryDirectory("model")
        try SynthGenerator.generate(Self.synthConfig(seed: 11), into: directory)
        dataset = try Dataset(directory: directory)
        train = try dataset.split("train")
    }

    /// The tiny data set's shape; another seed gives the same schema with other contents.
    static func synthConfig(seed: UInt64) -> SynthConfig {
        var c = SynthConfig()
        c.trainRequests = 24
        c.validRequests = 4
        c.testRequests = 4
        c.items = 60
        c.categories = 4
        c.kMax = 5
        c.lMax = 4
        c.textDim = 6
        c.imageDim = 5
        c.queryDim = 4
        c.seed = seed
        return c
    }

    var schema: DatasetSchema { dataset.schema }
    var items: ItemTable { dataset.items }

    /// d = 8, H = 2, E = 3, h = 6: every layer present and tiny.
    static func tinyConfig(seed: UInt64 = 3) -> ModelConfig {
        var c = ModelConfig()
        c.width = 8
        c.heads = 2
        c.embeddingWidth = 3
        c.cafuHidden = 6
        c.seed = seed
        return c
    }

    /// Requests `requests` with request 0's behaviours removed and its last candidate slots
    /// padded, so every batch exercises an empty sequence and padded candidates.
    func batch(_ requests: [Int], emptyFirst: Bool = true) throws -> Batch {
        var b = try train.batch(requests)
        guard emptyFirst else { return b }
        for j in 0..<b.lMax {
            b.behaviours[j] = -1
            b.behaviourMask[j] = 0
        }
        for j in 3..<b.kMax {
            b.candidates[j] = -1
            b.candidateMask[j] = 0
            for t in 0..<b.targetCount { b.labels[j * b.targetCount + t] = 0 }
            for f in 0..<b.listFeatureCount { b.listFeatures[j * b.listFeatureCount + f] = 0 }
        }
        return b
    }
}

enum ModelTestSupport {
    /// Central differences of the total loss on requests [3, 4, 5] (request 3 with no behaviours
    /// and padded slots) along one direction per named parameter, against the analytic
    /// directional derivative Σ grad·δ.
    static func assertFiniteDifferences(_ model: ARMMTModel, _ data: TinyModelData, rngSeed: UInt64, _ names: [String],
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let be = model.backend, config = model.config
        let batch = try data.batch([3, 4, 5])
        _ = try model.computeGradients(batch, items: data.items)
        var grads: [String: [Float]] = [:]
        for p in model.parameters { grads[p.name] = try be.read(p.grad) }
        var rng = SeededRandom(seed: rngSeed)
        let h: Float = 3e-3
        for name in names {
            guard let p = model.parameters.first(where: { $0.name == name }) else {
                XCTFail("no parameter \(name); have \(model.parameters.map(\.name))", file: file, line: line)
                continue
            }
            let theta = try be.read(p.value)
            // A unit direction half along the gradient (so the derivative is well above the
            // loss's rounding) and half random (so every component is tested), whatever the
            // parameter's size.
            let g = grads[name]!
            func unit(_ v: [Float]) -> [Float] {
                let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return v.map { $0 / max(n, 1e-30) }
            }
            let delta = unit(zip(unit(g), unit((0..<p.count).map { _ in Float(rng.normal()) })).map { $0 + $1 })
            XCTAssertGreaterThan(g.map(abs).max()!, 1e-6, "\(name): gradient is zero", file: file, line: line)
            let analytic = zip(grads[name]!, delta).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            try be.write(zip(theta, delta).map { $0 + h * $1 }, to: p.value)
            let plus = try model.evaluateLoss(batch, items: data.items).total
            try be.write(zip(theta, delta).map { $0 - h * $1 }, to: p.value)
            let minus = try model.evaluateLoss(batch, items: data.items).total
            try be.write(theta, to: p.value)
            let numeric = (plus - minus) / (2 * h)
            // Float losses and h = 3e-3 (LayerNorms at d = 8 curve enough that 1e-2 leaves
            // a 2-3% truncation error on joint.weight): relative 2e-2 of the larger side, plus the
            // loss's float rounding (~1e-7 to 3e-7) amplified by 1/2h.
            let allowed = 2e-2 * max(abs(analytic), abs(numeric)) + 5e-5
            print(String(format: "FD %@: analytic %.6g numeric %.6g error/allowed %.3f", name, analytic, numeric, abs(analytic - numeric) / allowed))
            XCTAssertLessThanOrEqual(abs(analytic - numeric), allowed,
                                     "\(name) (gate \(config.gate), mpsa \(config.mpsa), mpsa_qk \(config.mpsaQueryKey)): analytic \(analytic), numeric \(numeric)",
                                     file: file, line: line)
        }
    }

    /// Gradients grouped per layer: a Linear layer's weight and bias gradients form one
    /// tensor. Some bias gradients are 0 analytically (key-projection biases shift every score
    /// of a query equally; the list-wise loss ignores a shift of the logits), so theirs is
    /// pure rounding and only means something against the scale of the layer's gradient.
    static func layerGradients(_ model: ARMMTModel) throws -> [(name: String, values: [Float])] {
        var out: [(name: String, values: [Float])] = []
        for p in model.parameters {
            let g = try model.backend.read(p.grad)
            let layer = p.name.hasSuffix(".bias") ? String(p.name.dropLast(5)) : nil
            if let layer, let last = out.last, last.name == layer + ".weight" {
                out[out.count - 1] = (layer, last.values + g)
            } else {
                out.append((p.name, g))
            }
        }
        return out
    }

    static func allFinite(_ v: [Float]) -> Bool { v.allSatisfy(\.isFinite) }

    /// One AdamW step over every parameter, clipping at norm 1.
    static func adamStep(_ model: ARMMTModel, step: Int, learningRate: Float, norm: Tensor, scale: Tensor) throws {
        let be = model.backend
        try be.gradientNorm(model.parameters.map(\.grad), maxNorm: 1, norm: norm, clipScale: scale)
        let p = AdamWParameters(learningRate: learningRate, weightDecay: 0, step: step)
        for q in model.parameters {
            try be.adamW(p, parameter: q.value, gradient: q.grad, m: q.m, v: q.v, gradientScale: scale)
        }
    }
}
