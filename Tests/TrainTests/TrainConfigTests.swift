@testable import ARMMTGPU
import Foundation
import XCTest

/// Run config parsing: defaults, nulls, unknown keys and invalid values named by key.
final class TrainConfigTests: XCTestCase {
    private func decode(_ json: String) throws -> RunConfig {
        let c = try RunConfig.decode(Data(json.utf8))
        try c.validate()
        return c
    }

    func testDefaultsNullsAndResolution() throws {
        let c = try decode(#"{"train": {"clip_norm": null, "seed": 9}}"#)
        XCTAssertEqual(c.modelKind, "armmt", "armmt is the default model")
        XCTAssertEqual(c.model["seed"] as? UInt64, 9, "the model seed follows train.seed")
        XCTAssertNil(c.train.clipNorm)
        XCTAssertEqual(try decode("{}").train.clipNorm, 1.0)
        XCTAssertNil(c.train.evalEvery)
        XCTAssertEqual(c.train.earlyStopping, EarlyStoppingConfig())
        // The resolved config decodes to itself.
        let again = try RunConfig.decode(try c.encoded())
        XCTAssertEqual(try again.differences(from: c), [])
        XCTAssertEqual(again.train, c.train)
        // --seed moves both seeds unless the model section named its own.
        var d = try decode(#"{"model": {"kind": "linear"}}"#)
        d.setSeed(4)
        XCTAssertEqual(d.model["seed"] as? UInt64, 4)
        var e = try decode(#"{"model": {"kind": "linear", "seed": 2}}"#)
        e.setSeed(4)
        XCTAssertEqual(e.model["seed"] as? UInt64, 2)
        XCTAssertEqual(e.train.seed, 4)
    }

    func testUnknownKeysAreNamed() {
        DataTestSupport.expectError(["unknown key \"trian\""], kind: .usage) { _ = try self.decode(#"{"trian": {}}"#) }
        DataTestSupport.expectError(["unknown key \"train.learnig_rate\""], kind: .usage) { _ = try self.decode(#"{"train": {"learnig_rate": 1}}"#) }
        DataTestSupport.expectError(["unknown key \"train.early_stopping.patients\""], kind: .usage) {
            _ = try self.decode(#"{"train": {"early_stopping": {"patients": 3}}}"#)
        }
        DataTestSupport.expectError(["unknown key \"model.widht\""], kind: .usage) {
            let c = try self.decode(#"{"model": {"kind": "linear", "widht": 3}}"#)
            _ = try ModelFactory.make(modelSection: c.modelSection, schema: TrainTestSupport.dataset().schema, backend: CPUBackend(), maxBatch: 2)
        }
        DataTestSupport.expectError(["model.kind \"transformer\"", "linear"], kind: .usage) {
            let c = try self.decode(#"{"model": {"kind": "transformer"}}"#)
            _ = try ModelFactory.make(modelSection: c.modelSection, schema: TrainTestSupport.dataset().schema, backend: CPUBackend(), maxBatch: 2)
        }
    }

    func testInvalidValuesAreNamed() {
        let cases: [(String, String)] = [
            (#""learning_rate": 0"#, "train.learning_rate must be > 0"),
            (#""learning_rate": -1e-3"#, "train.learning_rate must be > 0"),
            (#""batch_size": 0"#, "train.batch_size must be >= 1"),
            (#""epochs": 0"#, "train.epochs must be >= 1"),
            (#""warmup_steps": -1"#, "train.warmup_steps must be >= 0"),
            (#""weight_decay": -0.1"#, "train.weight_decay must be >= 0"),
            (#""clip_norm": 0"#, "train.clip_norm must be > 0 or null"),
            (#""eval_every": 0"#, "train.eval_every must be >= 1"),
            (#""early_stopping": {"metric": "accuracy"}"#, "train.early_stopping.metric must be one of"),
            (#""early_stopping": {"metric": "ndcg@7"}"#, "train.early_stopping.metric"),
            (#""early_stopping": {"patience": 0}"#, "train.early_stopping.patience must be >= 1"),
            (#""log_every": 0"#, "train.log_every must be >= 1"),
            (#""beta2": 1"#, "train.beta2"),
        ]
        for (body, message) in cases {
            DataTestSupport.expectError([message], kind: .usage) { _ = try self.decode("{\"train\": {\(body)}}") }
        }
        DataTestSupport.expectError(["train.batch_size", "wrong type"], kind: .usage) { _ = try self.decode(#"{"train": {"batch_size": "many"}}"#) }
        DataTestSupport.expectError(["not valid JSON"], kind: .usage) { _ = try self.decode(#"{"train": "#) }
        DataTestSupport.expectError(["\"train\" must be a JSON object"], kind: .usage) { _ = try self.decode(#"{"train": 3}"#) }
        XCTAssertNoThrow(try decode(#"{"train": {"early_stopping": {"metric": "loss", "target": "click", "patience": null}}}"#))
    }

    func testSelectionMetricDirection() throws {
        XCTAssertTrue(SelectionMetric.auc.improves(0.6, over: 0.5))
        XCTAssertFalse(SelectionMetric.auc.improves(0.5, over: 0.5))
        XCTAssertTrue(SelectionMetric.loss.improves(0.4, over: 0.5))
        XCTAssertFalse(SelectionMetric.loss.improves(.nan, over: nil))
        XCTAssertEqual(SelectionMetric(name: "NDCG@10"), .ndcg(10))
    }

    func testTrainerRefusesUnknownSplitAndTarget() throws {
        let data = try TrainTestSupport.dataset()
        let dir = try TrainTestSupport.runDirectory("badtarget")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        DataTestSupport.expectError(["train.early_stopping.target 'buy'", "click, purchase"], kind: .usage) {
            _ = try TrainTestSupport.trainer(TrainTestSupport.config { $0.earlyStopping.target = "buy" }, data, dir)
        }
        DataTestSupport.expectError(["train.train_split 'training'"], kind: .usage) {
            _ = try TrainTestSupport.trainer(TrainTestSupport.config { $0.trainSplit = "training" }, data, dir)
        }
    }
}
