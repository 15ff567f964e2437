@testable import ARMMTGPU
import Foundation
import XCTest

/// The model trains, every switch builds and runs, padding is harmless, and a smaller batch
/// gives the same per-request results as a full one.
final class ModelBehaviourTests: XCTestCase {
    private let data = TinyModelData.shared

    func testLossFallsWithAdamW() throws {
        let model = try ARMMTModel(config: TinyModelData.tinyConfig(), schema: data.schema, backend: CPUBackend(), maxBatch: 8)
        let be = model.backend
        let norm = try be.makeTensor([1]), scale = try be.makeTensor([1])
        let batches = try [0, 8, 16].map { try data.train.batch(Array($0..<($0 + 8))) }
        func meanLoss() throws -> Float {
            try batches.reduce(Float(0)) { $0 + (try model.evaluateLoss($1, items: data.items).total) } / Float(batches.count)
        }
        let before = try meanLoss()
        for step in 1...40 {
            let r = try model.computeGradients(batches[step % batches.count], items: data.items)
            XCTAssertTrue(r.total.isFinite)
            try ModelTestSupport.adamStep(model, step: step, learningRate: 1e-2, norm: norm, scale: scale)
        }
        let after = try meanLoss()
        print("model training loss: \(before) -> \(after)")
        XCTAssertLessThan(after, 0.7 * before, "training loss \(before) -> \(after)")
    }

    private func variants() -> [(String, ModelConfig)] {
        let base = TinyModelData.tinyConfig()
        var out: [(String, ModelConfig)] = [("default", base)]
        func add(_ name: String, _ change: (inout ModelConfig) -> Void) {
            var c = base
            change(&c)
            out.append((name, c))
        }
        add("text only") { $0.modalities = [.text] }
        add("image only") { $0.modalities = [.image] }
        add("no modalities") { $0.modalities = [] }
        add("concat") { $0.fusion = .concat }
        add("mean") { $0.fusion = .mean }
        add("vector gate") { $0.gate = .vector }
        add("no behaviour attention") { $0.behaviourAttention = false }
        add("mpsa single") { $0.mpsa = .single }
        add("mpsa off") { $0.mpsa = .off }
        add("mpsa q/k from r") { $0.mpsaQueryKey = .r }
        add("mpsa q/k from r, no behaviour attention") { $0.mpsaQueryKey = .r; $0.behaviourAttention = false }
        add("mpsa q/k from r, no modalities") { $0.mpsaQueryKey = .r; $0.modalities = [] }
        add("no aux") { $0.auxWeight = 0 }
        add("listwise") { $0.loss = .listwise }
        add("two blocks, 4 heads") { $0.blocks = 2; $0.heads = 4 }
        add("concat text only") { $0.fusion = .concat; $0.modalities = [.text] }
        var prm = ModelConfig(preset: .prm)
        prm.width = 8
        prm.heads = 2
        prm.embeddingWidth = 3
        out.append(("preset prm", prm))
        return out
    }

    func testEverySwitchBuildsAndRunsWithFiniteValues() throws {
        let full = try data.batch([0, 1, 2])
        for (name, config) in variants() {
            let model = try ARMMTModel(config: config, schema: data.schema, backend: CPUBackend(), maxBatch: 4)
            let r = try model.computeGradients(full, items: data.items)
            XCTAssertTrue(r.total.isFinite && ModelTestSupport.allFinite(r.perTarget), "\(name): loss \(r)")
            XCTAssertEqual(r.total, r.main + config.auxWeight * r.aux, accuracy: 1e-5, name)
            for p in model.parameters {
                XCTAssertTrue(ModelTestSupport.allFinite(try model.backend.read(p.grad)), "\(name): \(p.name) gradient not finite")
            }
            let pred = try model.predict(full, items: data.items)
            XCTAssertEqual(pred.logits.count, 3 * data.schema.dims.kMax * data.schema.targets.count, name)
            XCTAssertTrue(ModelTestSupport.allFinite(pred.logits), "\(name): logits not finite")
            let m = model.shape.modalityCount
            XCTAssertEqual(pred.modalityNames.count, m, name)
            if config.fusion == .cafu && m > 0 {
                let alpha = try XCTUnwrap(pred.itemAlpha, name)
                XCTAssertEqual(alpha.count, 3 * data.schema.dims.kMax * m, name)
                XCTAssertTrue(ModelTestSupport.allFinite(alpha), name)
            } else {
                XCTAssertNil(pred.itemAlpha, name)
            }
        }
    }

    func testPresetPRMHasNoModalitiesNoBehavioursAndNoAux() throws {
        var prm = ModelConfig(preset: .prm)
        prm.width = 8
        prm.heads = 2
        let model = try ARMMTModel(config: prm, schema: data.schema, backend: CPUBackend(), maxBatch: 2)
        let names = model.parameters.map(\.name)
        XCTAssertFalse(names.contains { $0.hasPrefix("text_") || $0.hasPrefix("image_") || $0.hasPrefix("cafu") || $0.hasPrefix("behaviour") || $0.hasPrefix("aux_head") || $0.hasPrefix("recency") }, "\(names)")
        XCTAssertTrue(names.contains("mpsa.0.q_proj.weight"), "\(names)")
    }

    /// Request 0 has no behaviour and two padded candidate slots: its values stay finite, its
    /// personalized α is all zero, and padding does not change the other requests' results.
    func testPaddingAndEmptyBehavioursAndSmallerBatches() throws {
        let model = try ARMMTModel(config: TinyModelData.tinyConfig(), schema: data.schema, backend: CPUBackend(), maxBatch: 4)
        let k = data.schema.dims.kMax, t = data.schema.targets.count
        let three = try data.batch([0, 1, 2])
        let pred3 = try model.predict(three, items: data.items)
        XCTAssertTrue(ModelTestSupport.allFinite(pred3.logits))
        let pers = try XCTUnwrap(pred3.personalAlpha)
        XCTAssertEqual(Array(pers[0..<(k * 2)]), [Float](repeating: 0, count: k * 2), "empty behaviour sequence: α must be 0")
        let item = try XCTUnwrap(pred3.itemAlpha)
        for slot in 0..<3 { XCTAssertEqual(item[slot * 2] + item[slot * 2 + 1], 1, accuracy: 1e-5) }

        // A 1-request batch (padded up to the maximum of 4) gives request 1's logits exactly.
        let one = try data.train.batch([1])
        let pred1 = try model.predict(one, items: data.items)
        XCTAssertEqual(pred1.logits.count, k * t)
        for i in 0..<(k * t) {
            XCTAssertEqual(pred1.logits[i], pred3.logits[k * t + i], accuracy: 1e-5, "logit \(i)")
        }
        let r = try model.computeGradients(one, items: data.items)
        XCTAssertTrue(r.total.isFinite)
        // Losses do not see padding requests: a 1-request loss equals the same request's loss
        // in a model built for exactly one request.
        let exact = try ARMMTModel(config: TinyModelData.tinyConfig(), schema: data.schema, backend: CPUBackend(), maxBatch: 1)
        let r1 = try exact.computeGradients(one, items: data.items)
        XCTAssertEqual(r.total, r1.total, accuracy: 1e-5)
        let padded = try ModelTestSupport.layerGradients(model), plain = try ModelTestSupport.layerGradients(exact)
        for (a, b) in zip(padded, plain) {
            let c = Comparison.compare(a.name, actual: a.values, expected: b.values, tolerance: Tolerance(reductionLength: 1000))
            XCTAssertTrue(c.passed, "\(a.name): padded vs exact batch gradients differ (\(c))")
        }
    }

    func testSameSeedSameParametersAndGradients() throws {
        let a = try ARMMTModel(config: TinyModelData.tinyConfig(seed: 5), schema: data.schema, backend: CPUBackend(), maxBatch: 2)
        let b = try ARMMTModel(config: TinyModelData.tinyConfig(seed: 5), schema: data.schema, backend: CPUBackend(), maxBatch: 2)
        let c = try ARMMTModel(config: TinyModelData.tinyConfig(seed: 6), schema: data.schema, backend: CPUBackend(), maxBatch: 2)
        let batch = try data.batch([6, 7])
        XCTAssertEqual(try a.computeGradients(batch, items: data.items), try b.computeGradients(batch, items: data.items))
        for (p, q) in zip(a.parameters, b.parameters) {
            XCTAssertEqual(try a.backend.read(p.value), try b.backend.read(q.value), p.name)
            XCTAssertEqual(try a.backend.read(p.grad), try b.backend.read(q.grad), p.name)
        }
        XCTAssertNotEqual(try a.backend.read(a.parameters[0].value), try c.backend.read(c.parameters[0].value))
        // Init: Linear U(±1/√in), LayerNorm 1/0, embeddings N(0, 1).
        for p in a.parameters {
            let v = try a.backend.read(p.value)
            if p.name.hasSuffix("norm.weight") || p.name.hasSuffix("norm1.weight") || p.name.hasSuffix("norm2.weight") {
                XCTAssertEqual(Set(v), [1], p.name)
            } else if p.name.contains("_emb") {
                let mean = v.reduce(0, +) / Float(v.count)
                XCTAssertLessThan(abs(mean), 0.5, p.name)
                XCTAssertGreaterThan(v.map(abs).max()!, 0.5, p.name)
            } else if p.name.hasSuffix(".weight") {
                let bound = 1 / Float(p.shape[1]).squareRoot()
                XCTAssertLessThanOrEqual(v.map(abs).max()!, bound, p.name)
            }
        }
    }
}
