@testable import ARMMTGPU
import Foundation
import XCTest

/// `armmt-gpu train / eval / predict` end to end through the built binary, and the default
/// synthetic data cache.
final class TrainCLITests: XCTestCase {
    private func cli(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        try CLIRunner.run(arguments, environment: environment)
    }

    func testTrainEvalPredictAndErrors() throws {
        let data = try TrainTestSupport.dataset()
        let dir = try TrainTestSupport.runDirectory("cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/config-in.json"
        try Data(#"{"model": {"kind": "linear"}, "train": {"learning_rate": 0.05, "log_every": 4}}"#.utf8).write(to: URL(fileURLWithPath: config))
        let run = dir + "/run"
        let t = try cli(["train", "--data", data.directory, "--config", config, "--out", run, "--device", "cpu", "--epochs", "2", "--batch-size", "20", "--seed", "3"])
        XCTAssertEqual(t.status, 0, t.err)
        XCTAssertTrue(t.out.contains("done: step 12/12"), t.out)
        XCTAssertTrue(t.out.contains("step 4/12"), "plain progress lines off a terminal: \(t.out)")
        let resolved = try RunConfig.load(path: run + "/config.json")
        XCTAssertEqual(resolved.train.epochs, 2)
        XCTAssertEqual(resolved.train.batchSize, 20)
        XCTAssertEqual(resolved.train.seed, 3)
        XCTAssertEqual(resolved.model["seed"] as? UInt64, 3)

        let e = try cli(["eval", "--checkpoint", run + "/best.safetensors", "--data", data.directory, "--device", "cpu"])
        XCTAssertEqual(e.status, 0, e.err)
        for part in ["split test: 30 requests", "auc", "ndcg@10", "click", "purchase", "purchase oracle"] {
            XCTAssertTrue(e.out.contains(part), "'\(part)' missing from:\n\(e.out)")
        }
        let j = try cli(["eval", "--checkpoint", run + "/last.safetensors", "--split", "valid", "--json", "--device", "cpu"])
        XCTAssertEqual(j.status, 0, j.err)
        let object = try ConfigJSON.object(Data(j.out.utf8), what: "eval --json")
        XCTAssertEqual(object["split"] as? String, "valid")
        XCTAssertNotNil((object["targets"] as? [String: Any])?["purchase"])
        XCTAssertNotNil(object["oracle"])

        let csv = dir + "/p.csv"
        let p = try cli(["predict", "--checkpoint", run + "/best.safetensors", "--data", data.directory, "--split", "test", "--out", csv, "--device", "cpu"])
        XCTAssertEqual(p.status, 0, p.err)
        let lines = String(decoding: try TrainTestSupport.fileBytes(csv), as: UTF8.self).split(separator: "\n")
        let valid = try data.split("test").batch(Array(0..<30)).candidateMask.filter { $0 > 0 }.count
        XCTAssertEqual(lines.count, valid + 1)
        XCTAssertTrue(p.out.contains("wrote \(valid) rows"), p.out)

        // Usage errors: one line, exit 2.
        for (args, message) in [
            (["train", "--data", data.directory, "--config", config, "--out", dir + "/r2", "--batch-size", "0", "--device", "cpu"], "train.batch_size must be >= 1"),
            (["train", "--data", data.directory, "--config", config, "--resume", run, "--learning-rate", "0.5", "--device", "cpu"], "train.learning_rate: 0.05 vs 0.5"),
            (["train", "--data", data.directory, "--config", config, "--out", run, "--device", "cpu"], "already holds a run"),
            (["train", "--data", dir + "/missing", "--config", config, "--out", dir + "/r3", "--device", "cpu"], "no such data set directory"),
            (["eval", "--checkpoint", dir + "/none.safetensors", "--data", data.directory], "no such checkpoint"),
            (["eval", "--checkpoint", run + "/best.safetensors", "--data", data.directory, "--split", "nope", "--device", "cpu"], "no split 'nope'"),
        ] {
            let r = try cli(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
            XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        }
        let bad = dir + "/bad.json"
        try Data(#"{"train": {"epocs": 2}}"#.utf8).write(to: URL(fileURLWithPath: bad))
        let r = try cli(["train", "--data", data.directory, "--config", bad, "--out", dir + "/r4", "--device", "cpu"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.err.contains("unknown key \"train.epocs\""), r.err)

        // Resume of the finished run: nothing to do, exit 0.
        let again = try cli(["train", "--resume", run, "--device", "cpu"])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertTrue(again.out.contains("already complete"), again.out)
    }

    func testSyntheticDataCacheGeneratesOnceAndRegeneratesWhenBroken() throws {
        let root = try DataTestSupport.temporaryDirectory("cache")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var c = TrainTestSupport.synthConfig()
        c.trainRequests = 20
        c.validRequests = 5
        c.testRequests = 5
        let first = try SyntheticDataCache.ensure(c, root: root)
        XCTAssertTrue(first.generated)
        XCTAssertEqual(try Dataset(directory: first.directory).split("train").count, 20)
        let second = try SyntheticDataCache.ensure(c, root: root)
        XCTAssertFalse(second.generated)
        XCTAssertEqual(second.directory, first.directory)
        c.seed += 1
        XCTAssertNotEqual(SyntheticDataCache.directoryName(c), URL(fileURLWithPath: first.directory).lastPathComponent)
        c.seed -= 1
        // A damaged cache is not reused.
        try Data("{}".utf8).write(to: URL(fileURLWithPath: first.directory + "/items.safetensors"))
        var said: [String] = []
        let third = try SyntheticDataCache.ensure(c, root: root) { said.append($0) }
        XCTAssertTrue(third.generated)
        XCTAssertTrue(said.contains { $0.contains("not valid") }, "\(said)")
        XCTAssertNoThrow(try Dataset(directory: third.directory))
    }

    /// `train --device opencl` names where the item vectors live and how writes go, and the two
    /// ways (kept and staged; host and blocking) write byte-identical checkpoints.
    func testOpenCLTrainingNamesItsInputPathAndEitherPathGivesTheSameCheckpoint() throws {
        guard !OpenCLInventory.shared.devices.isEmpty else { throw XCTSkip("no OpenCL device") }
        let data = try TrainTestSupport.dataset()
        let dir = try TrainTestSupport.runDirectory("cli-opencl-inputs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/config-in.json"
        try Data(#"{"model": {"width": 8, "heads": 2, "embedding_width": 3, "cafu_hidden": 6}, "train": {"learning_rate": 0.01}}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        let ways = [("kept", ["ARMMT_OPENCL_ITEM_VECTORS_MIB": "1", "ARMMT_OPENCL_STAGED_WRITES": "1"],
                     "item vectors kept on the device (2.5 KiB; budget 1.0 MiB, ARMMT_OPENCL_ITEM_VECTORS_MIB); staged writes, ARMMT_OPENCL_STAGED_WRITES"),
                    ("host", ["ARMMT_OPENCL_ITEM_VECTORS_MIB": "0", "ARMMT_OPENCL_STAGED_WRITES": "0"],
                     "item vectors gathered on the host for each batch (2.5 KiB; budget 0 B, ARMMT_OPENCL_ITEM_VECTORS_MIB); blocking writes, ARMMT_OPENCL_STAGED_WRITES")]
        for (name, environment, line) in ways {
            let t = try cli(["train", "--data", data.directory, "--config", config, "--out", dir + "/" + name, "--device", "opencl",
                             "--epochs", "1", "--batch-size", "20", "--seed", "3"], environment: environment)
            XCTAssertEqual(t.status, 0, t.err)
            XCTAssertTrue(t.out.contains(line), "\(name): \(t.out)")
        }
        let kept = try Data(contentsOf: URL(fileURLWithPath: dir + "/kept/last.safetensors"))
        let host = try Data(contentsOf: URL(fileURLWithPath: dir + "/host/last.safetensors"))
        XCTAssertEqual(kept, host, "the checkpoints of the two input paths differ")
    }
}
