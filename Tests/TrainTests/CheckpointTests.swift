@testable import ARMMTGPU
import Foundation
import XCTest

/// Checkpoint files: round trip, atomic replacement, truncation, schema/config refusal, and
/// readability by the reference Python reader.
final class CheckpointTests: XCTestCase {
    /// A trained linear model's run directory (1 epoch) for the tests to read.
    private func trainedRun(_ tag: String) throws -> (Dataset, String, RunConfig) {
        let data = try TrainTestSupport.dataset()
        let dir = try TrainTestSupport.runDirectory(tag)
        let config = TrainTestSupport.config(epochs: 1)
        try TrainTestSupport.trainer(config, data, dir).run()
        return (data, dir, config)
    }

    func testRoundTripRestoresParametersMomentsStateAndConfig() throws {
        let data = try TrainTestSupport.dataset()
        let dir = try TrainTestSupport.runDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let backend = CPUBackend()
        let config = TrainTestSupport.config(epochs: 3) { $0.clipNorm = nil; $0.evalEvery = 4 }
        let model = try LinearScorer(schema: data.schema, backend: backend, maxBatch: 4)
        var rng = SeededRandom(seed: 99)
        for p in model.parameters {
            try backend.write(rng.floats(p.count), to: p.value)
            try backend.write(rng.floats(p.count), to: p.m)
            try backend.write(rng.floats(p.count, 0, 1), to: p.v)
        }
        var state = TrainingState(seed: 0xDEAD_BEEF_F00D)
        for _ in 0..<17 { _ = state.rng.next() }
        state.step = 13
        state.optimizerStep = 12
        state.epoch = 1
        state.epochPosition = 5
        state.bestMetric = 0.123456789012345
        state.bestStep = 8
        state.evalsWithoutImprovement = 1
        state.skippedBatches = 1
        let path = dir + "/c.safetensors"
        try Checkpoint.save(to: path, model: model, state: state, config: config, schema: data.schema, dataDirectory: data.directory)

        let ck = try Checkpoint.open(path)
        XCTAssertEqual(ck.state, state)
        XCTAssertEqual(ck.state.rng.state, state.rng.state, "RNG words survive exactly")
        XCTAssertEqual(try ck.config.differences(from: config), [])
        XCTAssertNil(ck.config.train.clipNorm, "an explicit null stays null")
        XCTAssertEqual(ck.config.train.evalEvery, 4)
        XCTAssertEqual(ck.dataDirectory, data.directory)
        XCTAssertEqual(ck.modelKind, "linear")
        XCTAssertEqual(ck.schemaFingerprint, try SchemaFingerprint.of(data.schema))
        XCTAssertEqual(ck.file.names, ["linear.weight", "linear.bias",
                                       "optimizer.linear.weight.exp_avg", "optimizer.linear.weight.exp_avg_sq",
                                       "optimizer.linear.bias.exp_avg", "optimizer.linear.bias.exp_avg_sq"])
        let fresh = try LinearScorer(config: LinearScorerConfig(seed: 5), schema: data.schema, backend: backend, maxBatch: 4)
        try ck.restore(into: fresh)
        for (a, b) in zip(model.parameters, fresh.parameters) {
            XCTAssertEqual(try backend.read(a.value), try backend.read(b.value), a.name)
            XCTAssertEqual(try backend.read(a.m), try backend.read(b.m), a.name)
            XCTAssertEqual(try backend.read(a.v), try backend.read(b.v), a.name)
        }
    }

    func testInterruptedWriteNeverReplacesAGoodCheckpoint() throws {
        let (data, dir, config) = try trainedRun("atomic")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let last = dir + "/last.safetensors"
        let good = try TrainTestSupport.fileBytes(last)
        // A crash mid-write leaves a partial temporary file beside the checkpoint…
        let leftover = dir + "/.last.safetensors.tmp-4242"
        try Data(good.prefix(good.count / 2)).write(to: URL(fileURLWithPath: leftover))
        // …and an abandoned writer (an error while streaming) removes its own.
        let w = try SafeTensorsStreamWriter(path: last, tensors: [SafeTensorSpec("x", .F32, [4])])
        try w.append([Float(1)])
        w.abandon()
        XCTAssertThrowsError(try SafeTensorsStreamWriter(path: last, tensors: [SafeTensorSpec("x", .F32, [4])]).finish())
        XCTAssertEqual(try TrainTestSupport.fileBytes(last), good, "last.safetensors is untouched")
        XCTAssertEqual(try Checkpoint.open(last).state.step, 8)
        // Resuming reads the good checkpoint, not the leftover, and finishes the run.
        var more = config
        more.train.epochs = 1
        let resumed = try TrainTestSupport.trainer(more, data, dir, resume: true)
        XCTAssertEqual(resumed.state.step, 8)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertFalse(names.contains { $0.hasPrefix(".last.safetensors.tmp-\(getpid())") }, "\(names)")
    }

    func testTruncatedCheckpointIsRefusedClearly() throws {
        let (data, dir, config) = try trainedRun("truncated")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let last = dir + "/last.safetensors"
        let bytes = try TrainTestSupport.fileBytes(last)
        try Data(bytes.dropLast(10)).write(to: URL(fileURLWithPath: last))
        DataTestSupport.expectError(["checkpoint", "last.safetensors", "truncated"]) { _ = try Checkpoint.open(last) }
        DataTestSupport.expectError(["truncated"]) { _ = try TrainTestSupport.trainer(config, data, dir, resume: true) }
        try Data(bytes.prefix(5)).write(to: URL(fileURLWithPath: last))
        DataTestSupport.expectError(["truncated"]) { _ = try Checkpoint.open(last) }
        DataTestSupport.expectError(["no such checkpoint"], kind: .usage) { _ = try Checkpoint.open(dir + "/nope.safetensors") }
    }

    func testMismatchedSchemaIsRefusedNamingTheDifference() throws {
        let (_, dir, _) = try trainedRun("schema")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let other = try TrainTestSupport.dataset(kMax: 5)
        let ck = try Checkpoint.open(dir + "/best.safetensors")
        DataTestSupport.expectError(["schema does not match", "dims.k_max: 6 vs 5"], kind: .usage) {
            _ = try ck.loadModel(for: other, backend: CPUBackend())
        }
        DataTestSupport.expectError(["schema does not match", "dims.k_max"], kind: .usage) {
            _ = try TrainTestSupport.trainer(TrainTestSupport.config(epochs: 1), other, dir, resume: true)
        }
    }

    func testResumeWithAnotherConfigIsRefusedNamingTheKeys() throws {
        let (data, dir, config) = try trainedRun("config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var changed = config
        changed.train.batchSize = 32
        changed.train.learningRate = 0.01
        DataTestSupport.expectError(["config differs", "train.batch_size: 16 vs 32", "train.learning_rate: 0.05 vs 0.01"], kind: .usage) {
            _ = try TrainTestSupport.trainer(changed, data, dir, resume: true)
        }
        DataTestSupport.expectError(["already holds a run", "--resume"], kind: .usage) {
            _ = try TrainTestSupport.trainer(config, data, dir)
        }
    }

    func testAnotherModelsCheckpointIsRefused() throws {
        let (data, dir, _) = try trainedRun("extra")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/extra.safetensors"
        let f = try SafeTensorsFile(path: dir + "/last.safetensors")
        var blobs = try f.names.map { SafeTensorBlob($0, .F32, f.info($0)!.shape, try f.floats($0)) }
        blobs.append(SafeTensorBlob("text_proj.weight", .F32, [2], [Float(1), 2]))
        try SafeTensorsWriter.write(path: path, tensors: blobs, metadata: f.metadata)
        DataTestSupport.expectError(["text_proj.weight", "not a parameter"], kind: .usage) {
            _ = try Checkpoint.open(path).loadModel(for: data, backend: CPUBackend())
        }
        try SafeTensorsWriter.write(path: path, tensors: Array(blobs.dropFirst()), metadata: f.metadata)
        DataTestSupport.expectError(["no tensor 'linear.weight'"], kind: .usage) {
            _ = try Checkpoint.open(path).loadModel(for: data, backend: CPUBackend())
        }
        try SafeTensorsWriter.write(path: path, tensors: blobs, metadata: [:])
        DataTestSupport.expectError(["not an armmt-gpu checkpoint"]) { _ = try Checkpoint.open(path) }
    }

    /// A format-1 checkpoint predates `aux_input`: its auxiliary head read `[r_item ⊕ r_pers ⊕ c]`,
    /// so it loads as `aux_input = r`; the same file marked format 2 takes the switch's default
    /// and is refused naming the head's weight, whose width then differs.
    func testVersion1CheckpointKeepsItsAuxiliaryInput() throws {
        let data = TinyModelData.shared
        let dir = try TrainTestSupport.runDirectory("format1")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let backend = CPUBackend()
        var modelConfig = TinyModelData.tinyConfig()
        modelConfig.auxInput = .r
        var section = try XCTUnwrap(try JSONSerialization.jsonObject(with: try modelConfig.encodedJSON()) as? [String: Any])
        section["kind"] = "armmt"
        let config = RunConfig(model: section)
        let model = try ARMMTModel(config: modelConfig, schema: data.schema, backend: backend, maxBatch: 4)
        let path = dir + "/v2.safetensors"
        try Checkpoint.save(to: path, model: model, state: TrainingState(seed: 1), config: config, schema: data.schema)

        let f = try SafeTensorsFile(path: path)
        let blobs = try f.names.map { SafeTensorBlob($0, .F32, f.info($0)!.shape, try f.floats($0)) }
        var run = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(f.metadata["config"]).utf8)) as? [String: Any])
        var runModel = try XCTUnwrap(run["model"] as? [String: Any])
        XCTAssertEqual(runModel.removeValue(forKey: "aux_input") as? String, "r")
        run["model"] = runModel
        var metadata = f.metadata
        metadata["config"] = String(decoding: try JSONSerialization.data(withJSONObject: run), as: UTF8.self)
        metadata["format_version"] = "1"
        let old = dir + "/v1.safetensors"
        try SafeTensorsWriter.write(path: old, tensors: blobs, metadata: metadata)

        let ck = try Checkpoint.open(old)
        XCTAssertEqual(ck.config.model["aux_input"] as? String, "r")
        let loaded = try ck.loadModel(for: data.dataset, backend: backend)
        let auxWeight = try XCTUnwrap(loaded.parameters.first { $0.name == "aux_head.fc1.weight" })
        XCTAssertEqual(auxWeight.shape, [8, 24])
        XCTAssertEqual(try backend.read(auxWeight.value),
                       try backend.read(try XCTUnwrap(model.parameters.first { $0.name == "aux_head.fc1.weight" }).value))

        metadata["format_version"] = "2"
        try SafeTensorsWriter.write(path: old, tensors: blobs, metadata: metadata)
        DataTestSupport.expectError(["aux_head.fc1.weight", "[8, 24]", "[8, 32]"], kind: .usage) {
            _ = try Checkpoint.open(old).loadModel(for: data.dataset, backend: backend)
        }
    }

    /// A checkpoint stores every switch with its value, given or default, so a later build's
    /// defaults cannot change what the file means. A file that stored only the given keys
    /// (format 2 and older) reads with this build's defaults and resumes under the same config.
    func testCheckpointStoresEveryModelSwitch() throws {
        let data = TinyModelData.shared
        let dir = try TrainTestSupport.runDirectory("switches")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let backend = CPUBackend()
        let given: [String: Any] = ["kind": "armmt", "width": 8, "heads": 2, "embedding_width": 3, "cafu_hidden": 6, "seed": 3, "mpsa": "single"]
        let config = RunConfig(model: given)
        let model = try ARMMTModel(config: try ModelConfig.decode(json: try JSONSerialization.data(withJSONObject: given.filter { $0.key != "kind" })),
                                   schema: data.schema, backend: backend, maxBatch: 4)
        let path = dir + "/c.safetensors"
        try Checkpoint.save(to: path, model: model, state: TrainingState(seed: 1), config: config, schema: data.schema)

        let f = try SafeTensorsFile(path: path)
        let run = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(f.metadata["config"]).utf8)) as? [String: Any])
        let stored = try XCTUnwrap(run["model"] as? [String: Any])
        let switches = ModelConfig.CodingKeys.allCases.map(\.stringValue).filter { $0 != "preset" } + ["kind"]
        XCTAssertEqual(Set(stored.keys), Set(switches), "every switch but the unset preset, and the kind")
        XCTAssertEqual(stored["mpsa"] as? String, "single")
        XCTAssertEqual(stored["aux_input"] as? String, AuxInput.rProduct.rawValue, "a default is written out")
        XCTAssertEqual(stored["fusion"] as? String, "cafu")
        _ = try Trainer(config: config, dataset: data.dataset, backend: backend, options: TrainOptions(runDirectory: dir + "/run"))
        let written = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run/config.json"))) as? [String: Any])
        XCTAssertEqual(Set(try XCTUnwrap(written["model"] as? [String: Any]).keys), Set(switches), "RUN_DIR/config.json too")

        var metadata = f.metadata
        metadata["config"] = String(decoding: try config.encoded(), as: UTF8.self)
        metadata["format_version"] = "2"
        let old = dir + "/given-keys.safetensors"
        let blobs = try f.names.map { SafeTensorBlob($0, .F32, f.info($0)!.shape, try f.floats($0)) }
        try SafeTensorsWriter.write(path: old, tensors: blobs, metadata: metadata)
        let ck = try Checkpoint.open(old)
        XCTAssertEqual(Set(ck.config.model.keys), Set(switches))
        XCTAssertEqual(try ck.config.differences(from: try Checkpoint.open(path).config), [])
        XCTAssertNoThrow(try ck.verify(config: try config.resolvingModelSwitches()))
        XCTAssertEqual(try ck.loadModel(for: data.dataset, backend: backend).parameters.map(\.shape), model.parameters.map(\.shape))

        var bad = metadata
        bad["config"] = #"{"model": {"kind": "armmt", "mpsa": "double"}, "train": {}}"#
        try SafeTensorsWriter.write(path: old, tensors: blobs, metadata: bad)
        DataTestSupport.expectError([old, "metadata config", "\"mpsa\"", "double", "newer armmt-gpu"], kind: .usage) { _ = try Checkpoint.open(old) }
    }

    /// The reference reader (safetensors.numpy) loads a checkpoint: names, shapes, values, metadata.
    func testCheckpointReadsInPythonSafetensors() throws {
        try DataTestSupport.requirePythonWithSafetensors()
        let (_, dir, _) = try trainedRun("python")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/last.safetensors"
        let script = """
        import json, sys
        from safetensors.numpy import load_file
        from safetensors import safe_open
        t = load_file(sys.argv[1])
        with safe_open(sys.argv[1], "np") as f:
            meta = f.metadata()
        print(json.dumps({"tensors": {k: [str(v.dtype), list(v.shape), v.astype("float64").ravel().tolist()] for k, v in t.items()},
                          "step": meta["step"], "config": json.loads(meta["config"])}))
        """
        let r = try XCTUnwrap(try DataTestSupport.python(["-c", script, path]))
        XCTAssertEqual(r.status, 0, r.output)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any])
        XCTAssertEqual(o["step"] as? String, "8")
        XCTAssertEqual((o["config"] as? [String: Any]).flatMap { ($0["model"] as? [String: Any])?["kind"] as? String }, "linear")
        let tensors = try XCTUnwrap(o["tensors"] as? [String: [Any]])
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(Set(tensors.keys), Set(f.names))
        for name in f.names {
            let t = try XCTUnwrap(tensors[name])
            XCTAssertEqual(t[0] as? String, "float32", name)
            XCTAssertEqual(t[1] as? [Int], f.info(name)!.shape, name)
            XCTAssertEqual((t[2] as? [Double])?.map { Float($0) }, try f.floats(name), name)
        }
    }
}
