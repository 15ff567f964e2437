import Foundation

/// Where a run stands: everything besides the tensors that resuming needs to continue exactly.
public struct TrainingState: Equatable, Sendable {
    /// Batches processed (updates plus skipped non-finite batches).
    public var step = 0
    /// AdamW updates applied (its bias-correction `t`).
    public var optimizerStep = 0
    /// The epoch in progress (0-based); equals `epochs` when the run is complete.
    public var epoch = 0
    /// Batches of `epoch` already processed.
    public var epochPosition = 0
    /// The shuffling RNG as it was at the start of `epoch`, before that epoch's permutation.
    public var rng = SeededRandom(seed: 1)
    /// Best value of the selection metric so far, and the step it was reached at.
    public var bestMetric: Double? = nil
    public var bestStep: Int? = nil
    /// Evaluations since the last improvement (early stopping counts these).
    public var evalsWithoutImprovement = 0
    public var skippedBatches = 0
    /// All epochs done, or stopped early: resuming has nothing left to do.
    public var finished = false

    public init(seed: UInt64 = 1) { rng = SeededRandom(seed: seed) }

    /// As safetensors metadata (strings). The RNG words are hex so no JSON number rounds them.
    var metadata: [String: String] {
        var m: [String: String] = [
            "step": String(step), "optimizer_step": String(optimizerStep), "epoch": String(epoch),
            "epoch_position": String(epochPosition),
            "rng_state": rng.state.map { String($0, radix: 16) }.joined(separator: ","),
            "evals_without_improvement": String(evalsWithoutImprovement),
            "skipped_batches": String(skippedBatches), "finished": String(finished),
        ]
        if let b = bestMetric { m["best_metric"] = String(b) }
        if let s = bestStep { m["best_step"] = String(s) }
        return m
    }

    init(metadata m: [String: String], path: String) throws {
        func field(_ key: String) throws -> String {
            guard let v = m[key] else { throw EngineError.runtime("\(path): checkpoint metadata has no '\(key)'") }
            return v
        }
        func int(_ key: String) throws -> Int {
            guard let v = Int(try field(key)), v >= 0 else { throw EngineError.runtime("\(path): checkpoint metadata '\(key)' is not a count") }
            return v
        }
        step = try int("step")
        optimizerStep = try int("optimizer_step")
        epoch = try int("epoch")
        epochPosition = try int("epoch_position")
        evalsWithoutImprovement = try int("evals_without_improvement")
        skippedBatches = try int("skipped_batches")
        finished = try field("finished") == "true"
        let words = try field("rng_state").split(separator: ",").compactMap { UInt64($0, radix: 16) }
        guard words.count == 4, words.contains(where: { $0 != 0 }) else {
            throw EngineError.runtime("\(path): checkpoint metadata 'rng_state' is not 4 hex words")
        }
        rng = try SeededRandom(restoring: words)
        if let b = m["best_metric"] {
            guard let v = Double(b) else { throw EngineError.runtime("\(path): checkpoint metadata 'best_metric' is not a number") }
            bestMetric = v
        }
        if let s = m["best_step"] { bestStep = Int(s) }
    }
}

extension SeededRandom {
    /// A generator continuing from `state` (4 words, as `state` reports them).
    init(restoring words: [UInt64]) throws {
        // `state` has a private setter; Codable is its one public door. JSONDecoder reads
        // integer literals into UInt64 exactly; the check below makes sure of it.
        let json = "{\"state\":[" + words.map(String.init).joined(separator: ",") + "]}"
        self = try JSONDecoder().decode(SeededRandom.self, from: Data(json.utf8))
        guard state == words else { throw EngineError.runtime("RNG state did not round-trip") }
    }
}

/// The parts of a data set schema a trained model depends on, canonically encoded: dims,
/// vocabularies, feature and target names, the list-feature normalisation. Splits, file names,
/// provenance and the item count are left out, so a model evaluates on another data set with the
/// same layout (e.g. a fresh test log).
public enum SchemaFingerprint {
    public static func canonicalObject(_ schema: DatasetSchema) throws -> [String: Any] {
        var object = try ConfigJSON.object(Data(try schema.encoded()), what: "schema")
        for key in ["splits", "source", "items_file", "items"] { object.removeValue(forKey: key) }
        return object
    }

    public static func canonicalJSON(_ schema: DatasetSchema) throws -> Data {
        try ConfigJSON.canonical(try canonicalObject(schema))
    }

    /// SHA-256 hex of `canonicalJSON`.
    public static func of(_ schema: DatasetSchema) throws -> String {
        SHA256.hex(Array(try canonicalJSON(schema)))
    }
}

/// Training checkpoints: one safetensors file holding the parameters under their names, the
/// AdamW moments as `optimizer.<name>.exp_avg` / `optimizer.<name>.exp_avg_sq`, and metadata
/// (state, the resolved run config, the schema and its fingerprint). Written atomically: a
/// temporary file in the same directory, fsync, rename; a crash leaves the previous file intact.
public enum Checkpoint {
    public static let formatName = "armmt-checkpoint"
    /// 2: the ARMMT model section gained `aux_input`, whose default (`r_product`) widens the
    /// auxiliary head; version 1 files are read with their head's `r`.
    public static let formatVersion = 2

    public static func optimizerNames(_ name: String) -> (expAvg: String, expAvgSq: String) {
        ("optimizer.\(name).exp_avg", "optimizer.\(name).exp_avg_sq")
    }

    /// Writes `model`'s parameters and optimizer moments with `state` and the config to `path`.
    public static func save(to path: String, model: TrainableModel, state: TrainingState, config: RunConfig,
                            schema: DatasetSchema, dataDirectory: String? = nil) throws {
        let config = try config.resolvingModelSwitches()
        var metadata = state.metadata
        metadata["format"] = formatName
        metadata["format_version"] = String(formatVersion)
        metadata["model_kind"] = config.modelKind
        metadata["config"] = String(decoding: try config.encoded(), as: UTF8.self)
        metadata["schema"] = String(decoding: try SchemaFingerprint.canonicalJSON(schema), as: UTF8.self)
        metadata["schema_fingerprint"] = try SchemaFingerprint.of(schema)
        if let d = dataDirectory { metadata["data_directory"] = d }
        var specs: [SafeTensorSpec] = model.parameters.map { SafeTensorSpec($0.name, .F32, $0.shape) }
        for p in model.parameters {
            let n = optimizerNames(p.name)
            specs.append(SafeTensorSpec(n.expAvg, .F32, p.shape))
            specs.append(SafeTensorSpec(n.expAvgSq, .F32, p.shape))
        }
        let writer = try SafeTensorsStreamWriter(path: path, tensors: specs, metadata: metadata)
        do {
            let backend = model.backend
            // A weight that overflowed to ±Inf can leave the loss finite (a logit of -Inf with
            // label 0 costs 0), so the step checks miss it; it is caught here, before it could
            // replace the last good checkpoint.
            func finite(_ values: [Float], _ name: String) throws -> [Float] {
                if let i = values.firstIndex(where: { !$0.isFinite }) {
                    let kept = FileManager.default.fileExists(atPath: path) ? "\(path) is left as it was" : "no checkpoint was written to \(path)"
                    throw EngineError.runtime("step \(state.step): \(name) is not finite (element \(i) = \(values[i])); training stopped, \(kept)")
                }
                return values
            }
            for p in model.parameters { try writer.append(try finite(try backend.read(p.value), p.name)) }
            for p in model.parameters {
                let n = optimizerNames(p.name)
                try writer.append(try finite(try backend.read(p.m), n.expAvg))
                try writer.append(try finite(try backend.read(p.v), n.expAvgSq))
            }
            try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Opens and checks a checkpoint file (format, metadata, the config it was trained with).
    public static func open(_ path: String) throws -> CheckpointFile {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw EngineError.usage("\(path): no such checkpoint") }
        // The path is the caller's to fix (exit 2); what is inside the file is not (exit 1).
        if isDirectory.boolValue { throw EngineError.usage("\(path): is a directory, not a checkpoint file (e.g. \(path)/last.safetensors)") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw EngineError.usage("\(path): checkpoint is not readable (permissions)") }
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(path: path)
        } catch let e as EngineError {
            throw EngineError.runtime("checkpoint \(e.message)")
        }
        return try CheckpointFile(file: file)
    }
}

/// A checkpoint opened for reading.
public struct CheckpointFile {
    public let path: String
    public let file: SafeTensorsFile
    public let state: TrainingState
    public let config: RunConfig
    public let modelKind: String
    public let schemaFingerprint: String
    /// The canonical schema JSON the checkpoint was trained on (`SchemaFingerprint`).
    public let schemaJSON: Data
    /// The data set directory the run trained on, when recorded.
    public let dataDirectory: String?

    init(file: SafeTensorsFile) throws {
        path = file.path
        self.file = file
        let m = file.metadata
        guard m["format"] == Checkpoint.formatName else {
            throw EngineError.runtime("\(path): not an armmt-gpu checkpoint (metadata format is \(m["format"].map { "\"\($0)\"" } ?? "missing"))")
        }
        guard let v = m["format_version"].flatMap(Int.init), v <= Checkpoint.formatVersion else {
            // Not a fault of the file: this build is too old for it (exit 2, like any input it cannot take).
            throw EngineError.usage("\(path): checkpoint format_version \(m["format_version"] ?? "missing") is newer than this armmt-gpu reads (\(Checkpoint.formatVersion)); upgrade armmt-gpu")
        }
        state = try TrainingState(metadata: m, path: path)
        guard let c = m["config"], let s = m["schema"], let f = m["schema_fingerprint"], let k = m["model_kind"] else {
            throw EngineError.runtime("\(path): checkpoint metadata lacks config, schema, schema_fingerprint or model_kind")
        }
        var decoded = try RunConfig.decode(Data(c.utf8), what: "\(path): metadata config")
        let auxInputKey = ModelConfig.CodingKeys.auxInput.stringValue
        if v < 2, decoded.modelKind == RunConfig.defaultModelKind, decoded.model[auxInputKey] == nil {
            var section = decoded.model
            section[auxInputKey] = AuxInput.r.rawValue
            decoded.setModel(section)
        }
        // Files written before every switch was stored (format 2 and older) fill the rest with
        // this build's defaults, which are theirs: a default that changed got a format version.
        do {
            config = try decoded.resolvingModelSwitches()
        } catch let e as EngineError {
            // This build wrote nothing it cannot read back, so the file comes from another build.
            throw EngineError(e.kind, "\(path): metadata config: \(e.message); was the checkpoint written by a newer armmt-gpu?")
        }
        modelKind = k
        schemaFingerprint = f
        schemaJSON = Data(s.utf8)
        dataDirectory = m["data_directory"]
    }

    /// Refuses a data set whose schema differs from the checkpoint's, naming the fields.
    public func verify(schema: DatasetSchema) throws {
        let now = try SchemaFingerprint.of(schema)
        if now == schemaFingerprint { return }
        let then = try ConfigJSON.object(schemaJSON, what: "\(path): metadata schema")
        let diff = ConfigJSON.differences(then, try SchemaFingerprint.canonicalObject(schema))
        let detail = diff.isEmpty ? "fingerprint \(schemaFingerprint.prefix(12)) vs \(now.prefix(12))" : diff.prefix(4).joined(separator: "; ")
        throw EngineError.usage("\(path): the data set's schema does not match the checkpoint's (checkpoint vs data: \(detail))")
    }

    /// Refuses a run config that differs from the checkpoint's, naming the keys.
    public func verify(config other: RunConfig) throws {
        let diff = try config.differences(from: other)
        guard diff.isEmpty else {
            throw EngineError.usage("\(path): the config differs from the checkpoint's (checkpoint vs now: \(diff.prefix(6).joined(separator: "; ")))")
        }
    }

    /// Loads the parameters (and, with `optimizer`, the AdamW moments) into `model`; every
    /// parameter must be present with its shape, and the file must hold nothing else.
    public func restore(into model: TrainableModel, optimizer: Bool = true) throws {
        var expected = Set<String>()
        for p in model.parameters {
            let n = Checkpoint.optimizerNames(p.name)
            expected.formUnion([p.name, n.expAvg, n.expAvgSq])
            try load(p.name, p.shape, into: p.value, model.backend)
            if optimizer {
                try load(n.expAvg, p.shape, into: p.m, model.backend)
                try load(n.expAvgSq, p.shape, into: p.v, model.backend)
            }
        }
        if let extra = file.names.first(where: { !expected.contains($0) }) {
            throw EngineError.usage("\(path): checkpoint tensor '\(extra)' is not a parameter of this \(modelKind) model")
        }
    }

    private func load(_ name: String, _ shape: [Int], into tensor: Tensor, _ backend: Backend) throws {
        guard let info = file.info(name) else {
            throw EngineError.usage("\(path): checkpoint has no tensor '\(name)' that the \(modelKind) model needs")
        }
        guard info.shape == shape, info.dtype == .F32 else {
            throw EngineError.usage("\(path): checkpoint tensor '\(name)' is \(info.dtype.rawValue) \(info.shape), the model needs F32 \(shape)")
        }
        try backend.write(try file.floats(name), to: tensor)
    }
}

extension CheckpointFile {
    /// The checkpoint's model, built from its config for `dataset` (whose schema must match)
    /// with the trained parameters loaded: what `eval` and `predict` run.
    public func loadModel(for dataset: Dataset, backend: Backend, maxBatch: Int? = nil) throws -> TrainableModel {
        try verify(schema: dataset.schema)
        let model = try ModelFactory.make(modelSection: config.modelSection, schema: dataset.schema, backend: backend,
                                          maxBatch: maxBatch ?? config.train.batchSize)
        try restore(into: model, optimizer: false)
        return model
    }
}
