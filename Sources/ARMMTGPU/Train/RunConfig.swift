import Foundation

/// A run config file: `{"model": {...}, "train": {...}}`.
///
/// The model section stays raw JSON: `ModelFactory` decodes it for the model its `"kind"`
/// names (`"armmt"` when absent, or `"linear"`). Resolution fills `kind` and, when the section
/// has none, `seed` from `train.seed`; `resolvingModelSwitches()` then writes out every other
/// switch, so the config in `RUN_DIR/config.json` and in every checkpoint says everything the
/// run depended on.
public struct RunConfig {
    /// The model section as a JSON object, resolved (`kind` and `seed` present).
    public private(set) var model: [String: Any]
    public var train: TrainConfig

    public static let defaultModelKind = "armmt"

    public init(model: [String: Any] = [:], train: TrainConfig = TrainConfig()) {
        self.model = model
        self.train = train
        resolveModel()
    }

    public var modelKind: String { model["kind"] as? String ?? Self.defaultModelKind }

    /// The model section as canonical JSON bytes (what the factory decodes).
    public var modelSection: Data { (try? ConfigJSON.canonical(model)) ?? Data("{}".utf8) }

    /// Replaces the model section (e.g. from `--model-kind`), resolving it again.
    public mutating func setModel(_ section: [String: Any]) {
        model = section
        resolveModel()
    }

    /// This config with every switch of the model section written out
    /// (`ModelFactory.resolvedSection`); decoding the section refuses what the model would.
    public func resolvingModelSwitches() throws -> RunConfig {
        var resolved = self
        resolved.model = try ModelFactory.resolvedSection(modelSection)
        return resolved
    }

    /// Sets the model section's seed from `train.seed` when it has none.
    private mutating func resolveModel() {
        if model["kind"] == nil { model["kind"] = Self.defaultModelKind }
        if model["seed"] == nil { model["seed"] = NSNumber(value: train.seed) }
    }

    /// Parses a config file's bytes; unknown top-level or train keys are refused by name.
    /// Validation (`validate()`) is separate so that command-line overrides apply first.
    public static func decode(_ data: Data, what: String = "config") throws -> RunConfig {
        let object = try ConfigJSON.object(data, what: what)
        if let bad = object.keys.sorted().first(where: { $0 != "model" && $0 != "train" }) {
            throw EngineError.usage("\(what): unknown key \"\(bad)\" (known: model, train)")
        }
        var model: [String: Any] = [:]
        if let m = object["model"] {
            guard let mo = m as? [String: Any] else { throw EngineError.usage("\(what): \"model\" must be a JSON object") }
            model = mo
            if let kind = mo["kind"], !(kind is String) { throw EngineError.usage("\(what): \"model.kind\" must be a string") }
        }
        var train = TrainConfig()
        if let t = object["train"] {
            guard t is [String: Any] else { throw EngineError.usage("\(what): \"train\" must be a JSON object") }
            train = try ConfigJSON.decodeSection(TrainConfig.self, section: "train", from: try ConfigJSON.canonical(t), what: what)
        }
        // The model seed defaults to the train seed only when the file leaves it out; an
        // explicit one stays, whatever --seed says later.
        let explicitSeed = model["seed"] != nil
        var config = RunConfig(model: model, train: train)
        config.modelSeedIsExplicit = explicitSeed
        return config
    }

    /// Reads a config file; a missing file is a usage error.
    public static func load(path: String) throws -> RunConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError.usage("\(path): cannot read the config file")
        }
        return try decode(data, what: path)
    }

    /// Whether the model section's seed came from the file (else it follows `train.seed`).
    public var modelSeedIsExplicit = false

    /// Sets `train.seed` and, unless the model section named its own, the model seed.
    public mutating func setSeed(_ seed: UInt64) {
        train.seed = seed
        if !modelSeedIsExplicit { model["seed"] = NSNumber(value: seed) }
    }

    public func validate() throws {
        try train.validate()
        guard model["kind"] is String else { throw EngineError.usage("config: model.kind must be a string") }
    }

    /// `{"model": ..., "train": ...}` as a JSON object (train with every default filled in).
    public func jsonObject() throws -> [String: Any] {
        let encoder = JSONEncoder()
        let trainData = try encoder.encode(train)
        let trainObject = try ConfigJSON.object(trainData, what: "train config")
        return ["model": model, "train": trainObject]
    }

    /// Canonical JSON of the resolved config (sorted keys); `pretty` for `config.json`.
    public func encoded(pretty: Bool = false) throws -> Data {
        try ConfigJSON.canonical(try jsonObject(), pretty: pretty)
    }

    /// Key paths that differ from `other` (`"train.batch_size: 32 vs 64"`), empty when equal.
    public func differences(from other: RunConfig) throws -> [String] {
        ConfigJSON.differences(try jsonObject(), try other.jsonObject())
    }
}
