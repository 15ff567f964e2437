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
            throw EngineError.usage("config: model.kind \"\(kind)\" is not a model this build has (has: \(kinds.joined(separator: ", ")))")
        }
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
