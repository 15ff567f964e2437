import Foundation

/// Builds the model a run config's `"model"` section names.
public enum ModelFactory {
    /// The kinds this build can make.
    public static let kinds = ["linear"]

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
        // MERGE POINT: `case "armmt":` decoding ModelConfig and building ARMMTModel goes here
        // (and "armmt" into `kinds`).
        default:
            throw EngineError.usage("config: model.kind \"\(kind)\" is not a model this build has (has: \(kinds.joined(separator: ", ")))")
        }
    }
}
