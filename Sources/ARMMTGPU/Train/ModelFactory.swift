import Foundation

/// Builds the model a run config's `"model"` section names.
public enum ModelFactory {
    /// The kinds this build can make.
    public static let kinds = ["armmt", "linear"]

    /// The `"kind"` of a model section (`"armmt"` when absent).
    public static func kind(of modelSection: Data) throws -> String {
        let object = try ConfigJSON.object(modelSection, what: "config: model")
        guard let kind = object["kind"] else { return RunConfig.defaultModelKind }
        guard let s = kind as? String else { throw EngineError.usage("config: model.kind must be a string") }
        return s
    }

    /// Decodes `modelSection` (unknown keys refused by name) and builds the model with fresh,
    /// seeded parameters for batches of at most `maxBatch` requests of `schema`'s shapes.
    public static func make(modelSection: Data, schema: DatasetSchema, backend: Backend, maxBatch: Int) throws -> TrainableModel {
        let kind = try kind(of: modelSection)
        switch kind {
        case "linear":
            let config = try ConfigJSON.decodeSection(LinearScorerConfig.self, section: "model", from: modelSection)
            return try LinearScorer(config: config, schema: schema, backend: backend, maxBatch: maxBatch)
        case "armmt":
            return try ARMMTModel(configJSON: try withoutKind(modelSection), schema: schema, backend: backend, maxBatch: maxBatch)
        default:
            throw unknownKind(kind)
        }
    }

    /// `modelSection` with every key of its kind's config written out, defaults filled in.
    /// Checkpoints and `config.json` hold this form: what a run trained stays what its files
    /// say when a later build changes a default (as `aux_input` did, which cost a format
    /// version), and a switch added later is absent only from files that predate it.
    public static func resolvedSection(_ modelSection: Data) throws -> [String: Any] {
        let kind = try kind(of: modelSection)
        let full: Data
        switch kind {
        case "linear":
            full = try JSONEncoder().encode(try ConfigJSON.decodeSection(LinearScorerConfig.self, section: "model", from: modelSection))
        case "armmt":
            full = try JSONEncoder().encode(try ModelConfig.decode(json: try withoutKind(modelSection)))
        default:
            throw unknownKind(kind)
        }
        var object = try ConfigJSON.object(full, what: "config: model")
        object["kind"] = kind
        return object
    }

    /// The refusal of a kind this build has no model for.
    static func unknownKind(_ kind: String) -> EngineError {
        EngineError.usage("config: model.kind \"\(kind)\" is not a model this build has (has: \(kinds.joined(separator: ", ")))")
    }

    /// The model section minus `kind`, which selects the model and is not one of its keys.
    private static func withoutKind(_ section: Data) throws -> Data {
        guard var object = try JSONSerialization.jsonObject(with: section) as? [String: Any] else {
            throw EngineError.usage("config: model must be a JSON object")
        }
        object.removeValue(forKey: "kind")
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }
}
