@testable import ARMMTGPU
import Foundation
import XCTest

/// The training loop with the linear baseline on a small synthetic data set (CPU backend).
final class TrainLoopTests: XCTestCase {
    func testLossFallsAndValidationAUCBeatsChance() throws {
        let data = try TrainTestSupport.dataset()
        let dir = try TrainTestSupport.runDirectory("loss")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trainer = try TrainTestSupport.trainer(TrainTestSupport.config(epochs: 12) { $0.earlyStopping.patience = nil }, data, dir)
        let s = try trainer.run()
        XCTAssertEqual(s.steps, 12 * 8)
        XCTAssertTrue(s.finished)
        let lines = try MetricsLog(path: dir + "/metrics.jsonl").read()
        let losses = lines.filter { $0["type"] as? String == "train" }.compactMap { $0["loss"] as? Double }
        XCTAssertEqual(losses.count, 96)
        let first = losses.prefix(8).reduce(0, +) / 8, last = losses.suffix(8).reduce(0, +) / 8
        XCTAssertLessThan(last, 0.8 * first, "mean loss of the first epoch \(first), of the last \(last)")
        let evals = lines.filter { $0["type"] as? String == "eval" }
        XCTAssertEqual(evals.count, 12, "one evaluation per epoch")
        let auc = try XCTUnwrap(s.lastEvaluation?.metrics(for: "click")?.auc)
        print("valid click AUC \(auc)")
        XCTAssertGreaterThan(auc, 0.55, "the prior ranker's position and score carry signal")
        XCTAssertNotNil(s.lastEvaluation?.oracle)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/best.safetensors"))
        // config.json is the resolved config and decodes to the same thing.
        let written = try RunConfig.load(path: dir + "/config.json")
        XCTAssertEqual(try written.differences(from: trainer.config), [])
    }

    /// 2 epochs in one run equal 1 epoch + resume, and an interruption in the middle of an
    /// epoch + resume, bit for bit: weights, AdamW moments, RNG, best metric.
    func testResumeIsBitIdentical() throws {
        let data = try TrainTestSupport.dataset()
        let config = TrainTestSupport.config(epochs: 2) { $0.warmupSteps = 3; $0.evalEvery = 5 }
        let full = try TrainTestSupport.runDirectory("full")
        defer { try? FileManager.default.removeItem(atPath: full) }
        try TrainTestSupport.trainer(config, data, full).run()
        let reference = try TrainTestSupport.tensorBytes(full + "/last.safetensors")
        let refState = try Checkpoint.open(full + "/last.safetensors").state
        XCTAssertEqual(refState.step, 16)
        XCTAssertTrue(refState.finished)

        for (tag, stop) in [("epoch", { (o: inout TrainOptions) in o.stopAfterEpochs = 1 }),
                            ("mid", { (o: inout TrainOptions) in o.stopAfterSteps = 11 })] {
            let dir = try TrainTestSupport.runDirectory("resume-\(tag)")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let first = try TrainTestSupport.trainer(config, data, dir, stop).run()
            XCTAssertFalse(first.finished, tag)
            XCTAssertEqual(first.steps, tag == "epoch" ? 8 : 11)
            let resumed = try TrainTestSupport.trainer(config, data, dir, resume: true)
            XCTAssertEqual(resumed.state.step, first.steps)
            let s = try resumed.run()
            XCTAssertEqual(s.steps, 16, tag)
            let bytes = try TrainTestSupport.tensorBytes(dir + "/last.safetensors")
            XCTAssertEqual(Set(bytes.keys), Set(reference.keys))
            for (name, b) in reference { XCTAssertEqual(bytes[name], b, "\(tag): tensor \(name) differs after resume") }
            let st = try Checkpoint.open(dir + "/last.safetensors").state
            XCTAssertEqual(st, refState, tag)
            // metrics.jsonl holds each step once, as the uninterrupted run's does.
            let steps = try MetricsLog(path: dir + "/metrics.jsonl").read().filter { $0["type"] as? String == "train" }.compactMap { $0["step"] as? Int }
            XCTAssertEqual(steps, Array(1...16), tag)
            // Resuming a finished run does nothing.
            XCTAssertEqual(try TrainTestSupport.trainer(config, data, dir, resume: true).run().steps, 16)
        }
    }

    func testNaNListFeatureStopsTrainingNamingStepAndTensorAndKeepsLast() throws {
        let data = try TrainTestSupport.dataset()
        let config = TrainTestSupport.config(epochs: 1) { $0.checkpointEvery = 2 }
        let dir = try TrainTestSupport.runDirectory("nan")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inner = try LinearScorer(schema: data.schema, backend: CPUBackend(), maxBatch: 16)
        let model = NaNInjectingModel(inner, nanAtCall: 5)
        let trainer = try TrainTestSupport.trainer(config, data, dir, model: model)
        DataTestSupport.expectError(["step 5", "loss is nan", "first non-finite tensor: linear.weight.grad", "left as it was"]) {
            try trainer.run()
        }
        // checkpoint_every 2: the step-4 checkpoint is the last good one, and no later save replaced it.
        XCTAssertEqual(try Checkpoint.open(dir + "/last.safetensors").state.step, 4)
        let f = try SafeTensorsFile(path: dir + "/last.safetensors")
        XCTAssertTrue(try f.floats("linear.weight").allSatisfy(\.isFinite))
    }

    /// The same fault in the ARMMT model: the NaN reaches the loss through the list-feature
    /// projection; the error names the step and the first parameter whose gradient is not
    /// finite, and `last` keeps the step-2 weights bit for bit.
    func testNaNBatchStopsARMMTTrainingAndKeepsLastUntouched() throws {
        let data = try TrainTestSupport.dataset()
        var config = TrainTestSupport.config(epochs: 1) { $0.checkpointEvery = 2 }
        config.setModel(["kind": "armmt", "width": 8, "heads": 2, "embedding_width": 3, "cafu_hidden": 6, "seed": 5])
        let dir = try TrainTestSupport.runDirectory("nan-armmt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inner = try ModelFactory.make(modelSection: config.modelSection, schema: data.schema, backend: CPUBackend(), maxBatch: 16)
        XCTAssertTrue(inner is ARMMTModel)
        let trainer = try TrainTestSupport.trainer(config, data, dir, model: NaNInjectingModel(inner, nanAtCall: 3))
        var message = ""
        do {
            try trainer.run()
            XCTFail("a NaN batch did not stop training")
        } catch let e as EngineError {
            message = e.message
            XCTAssertEqual(e.kind, .runtime)
        }
        for part in ["step 3", "is nan", "first non-finite tensor: ", ".grad (element", "left as it was"] {
            XCTAssertTrue(message.contains(part), "'\(part)' missing from: \(message)")
        }
        XCTAssertEqual(message.split(separator: "\n").count, 1)
        let ck = try Checkpoint.open(dir + "/last.safetensors")
        XCTAssertEqual(ck.state.step, 2)
        let before = try TrainTestSupport.tensorBytes(dir + "/last.safetensors")
        let f = try SafeTensorsFile(path: dir + "/last.safetensors")
        for n in f.names { XCTAssertTrue(try f.floats(n).allSatisfy(\.isFinite), n) }
        // Resuming from the last good checkpoint replays step 3 on clean data (no injector) and goes on.
        let resumed = try TrainTestSupport.trainer(config, data, dir, resume: true)
        XCTAssertEqual(resumed.state.step, 2)
        XCTAssertEqual(try TrainTestSupport.tensorBytes(dir + "/last.safetensors"), before)
        XCTAssertEqual(try resumed.run().steps, 8)
    }

    func testSkipNonFiniteBatchesCountsAndContinues() throws {
        let data = try TrainTestSupport.dataset()
        let config = TrainTestSupport.config(epochs: 1) { $0.skipNonfiniteBatches = true }
        let dir = try TrainTestSupport.runDirectory("skip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inner = try LinearScorer(schema: data.schema, backend: CPUBackend(), maxBatch: 16)
        let log = SilentTrainLog()
        let trainer = try TrainTestSupport.trainer(config, data, dir, model: NaNInjectingModel(inner, nanAtCall: 3)) { $0.log = log }
        let s = try trainer.run()
        XCTAssertEqual(s.skippedBatches, 1)
        XCTAssertEqual(s.steps, 8)
        XCTAssertEqual(trainer.state.optimizerStep, 7, "the skipped batch made no update")
        XCTAssertTrue(log.messages.contains { $0.contains("step 3: skipped") }, "\(log.messages)")
        XCTAssertTrue(try SafeTensorsFile(path: dir + "/last.safetensors").floats("linear.weight").allSatisfy(\.isFinite))
        XCTAssertEqual(try Checkpoint.open(dir + "/last.safetensors").state.skippedBatches, 1)
    }

    func testEarlyStoppingWithPatience() throws {
        let data = try TrainTestSupport.dataset()
        // A learning rate so small that the ranking (hence NDCG) cannot change after the first
        // evaluation: every later one counts against the patience of 2.
        let config = TrainTestSupport.config(epochs: 30) {
            $0.learningRate = 1e-9
            $0.evalEvery = 1
            $0.earlyStopping = EarlyStoppingConfig(metric: "ndcg@10", target: "click", patience: 2)
        }
        let dir = try TrainTestSupport.runDirectory("early")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try TrainTestSupport.trainer(config, data, dir).run()
        XCTAssertTrue(s.stoppedEarly)
        XCTAssertTrue(s.finished)
        XCTAssertLessThan(s.steps, 30 * 8)
        let st = try Checkpoint.open(dir + "/last.safetensors").state
        XCTAssertEqual(st.evalsWithoutImprovement, 2)
        XCTAssertEqual(st.step, s.steps)
    }

    func testLearningRateScheduleWarmupThenCosineToZero() {
        let s = LearningRateSchedule(peak: 1, warmupSteps: 4, totalSteps: 14)
        XCTAssertEqual(s.rate(at: 0), 0.25)
        XCTAssertEqual(s.rate(at: 3), 1)
        XCTAssertEqual(s.rate(at: 4), 1)
        XCTAssertEqual(s.rate(at: 9), 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 14), 0, accuracy: 1e-12)
        XCTAssertGreaterThan(s.rate(at: 13), 0)
        let rates = (4..<14).map(s.rate)
        XCTAssertEqual(rates, rates.sorted(by: >), "cosine decay is monotone")
    }

    func testLinearScorerGradientsMatchFiniteDifferences() throws {
        let data = try TrainTestSupport.dataset()
        let backend = CPUBackend()
        let model = try LinearScorer(schema: data.schema, backend: backend, maxBatch: 5)
        let batch = try data.split("train").batch([3, 1, 4])
        _ = try model.computeGradients(batch, items: data.items)
        for p in model.parameters {
            let grad = try backend.read(p.grad)
            var values = try backend.read(p.value)
            for i in 0..<values.count {
                let h: Float = 1e-2
                let x = values[i]
                values[i] = x + h
                try backend.write(values, to: p.value)
                let up = try model.computeGradients(batch, items: data.items).total
                values[i] = x - h
                try backend.write(values, to: p.value)
                let down = try model.computeGradients(batch, items: data.items).total
                values[i] = x
                try backend.write(values, to: p.value)
                XCTAssertEqual(grad[i], (up - down) / (2 * h), accuracy: 2e-3, "\(p.name)[\(i)]")
            }
        }
        // Predictions equal the formula on the host.
        let pred = try model.predict(batch, items: data.items)
        let w = try backend.read(model.parameters[0].value), bias = try backend.read(model.parameters[1].value)
        let dense = data.items.gatherDense(batch.candidates)
        let fl = batch.listFeatureCount, fd = data.items.denseCount, t = model.targetCount
        for r in 0..<(batch.size * batch.kMax) where batch.candidateMask[r] > 0 {
            let x = Array(batch.listFeatures[(r * fl)..<((r + 1) * fl)]) + Array(dense[(r * fd)..<((r + 1) * fd)])
            for q in 0..<t {
                let expected = zip(x, w[(q * x.count)..<((q + 1) * x.count)]).map { $0 * $1 }.reduce(bias[q], +)
                XCTAssertEqual(pred.logits[r * t + q], expected, accuracy: 1e-5)
            }
        }
    }

    func testPredictWritesOneRowPerValidCandidateInInputOrder() throws {
        let data = try TrainTestSupport.dataset()
        let dir = try TrainTestSupport.runDirectory("predict")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TrainTestSupport.trainer(TrainTestSupport.config(epochs: 1), data, dir).run()
        let ck = try Checkpoint.open(dir + "/best.safetensors")
        let model = try ck.loadModel(for: data, backend: CPUBackend(), maxBatch: 7)
        let split = try data.split("test")
        let out = dir + "/pred.csv"
        let rows = try Predictor.writeCSV(model: model, split: split, items: data.items, batchSize: 7, to: out, explain: true)
        let lines = String(decoding: try TrainTestSupport.fileBytes(out), as: UTF8.self).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "request_id,position,click,purchase", "no CAFU in the linear model: --explain adds nothing")
        XCTAssertEqual(lines.count - 1, rows)
        let all = try split.batch(Array(0..<split.count))
        var expected: [String] = []
        for b in 0..<all.size {
            for j in 0..<all.kMax where all.candidateMask[b * all.kMax + j] > 0 { expected.append("\(all.requestIDs![b]),\(j)") }
        }
        XCTAssertEqual(rows, expected.count)
        XCTAssertEqual(lines.dropFirst().map { $0.split(separator: ",").prefix(2).joined(separator: ",") }, expected)
        // Scores equal the model's prediction of the whole split in one batch.
        let big = try ck.loadModel(for: data, backend: CPUBackend(), maxBatch: split.count)
        let p = try big.predict(all, items: data.items)
        var i = 1
        for r in 0..<(all.size * all.kMax) where all.candidateMask[r] > 0 {
            let f = lines[i].split(separator: ",")
            XCTAssertEqual(Float(String(f[2])), p.logits[r * 2])
            XCTAssertEqual(Float(String(f[3])), p.logits[r * 2 + 1])
            i += 1
        }
    }

    func testEvaluationReportsEveryMetricAndTheOracle() throws {
        let data = try TrainTestSupport.dataset()
        let model = try LinearScorer(schema: data.schema, backend: CPUBackend(), maxBatch: 9)
        let r = try Evaluator.evaluate(model: model, split: data.split("test"), items: data.items, batchSize: 9)
        XCTAssertEqual(r.metrics.map(\.target), ["click", "purchase"])
        XCTAssertEqual(r.oracle?.map(\.target), ["click", "purchase"])
        let text = r.text()
        for part in ["split test: 30 requests", "auc", "gauc", "ndcg@1", "ndcg@10", "mrr", "logloss", "click", "purchase oracle"] {
            XCTAssertTrue(text.contains(part), "'\(part)' missing from:\n\(text)")
        }
        let json = r.jsonObject()
        let targets = try XCTUnwrap(json["targets"] as? [String: [String: Any]])
        for key in ["auc", "gauc", "ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10", "mrr", "loss"] { XCTAssertNotNil(targets["purchase"]?[key], key) }
        // In one batch or in many, the metrics are the same.
        let one = try Evaluator.evaluate(model: try LinearScorer(schema: data.schema, backend: CPUBackend(), maxBatch: 30),
                                         split: data.split("test"), items: data.items, batchSize: 30)
        XCTAssertEqual(one.metrics, r.metrics)
    }

    /// The same run on OpenCL (PoCL here) tracks the CPU run: the trainer only uses backend ops.
    func testOpenCLTrainingTracksCPU() throws {
        if OpenCLInventory.shared.devices.isEmpty { throw XCTSkip("no OpenCL device") }
        let data = try TrainTestSupport.dataset()
        let config = TrainTestSupport.config(epochs: 1)
        var weights: [[Float]] = []
        for backend in [CPUBackend(), try OpenCLBackend(deviceIndex: 0)] as [Backend] {
            let dir = try TrainTestSupport.runDirectory("backend-\(backend.kind)")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let o = TrainOptions(runDirectory: dir, dataDirectory: data.directory)
            let trainer = try Trainer(config: config, dataset: data, backend: backend, options: o)
            try trainer.run()
            weights.append(try SafeTensorsFile(path: dir + "/last.safetensors").floats("linear.weight"))
        }
        for (a, b) in zip(weights[0], weights[1]) { XCTAssertEqual(a, b, accuracy: 1e-3 * max(1, abs(a))) }
    }
}
