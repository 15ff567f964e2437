import Foundation

/// A data set directory: `schema.json`, the item table and the splits (docs/DATA.md).
///
/// Opening validates everything: the schema, every file's safetensors header (offsets, sizes,
/// truncation), every tensor's dtype and shape against the schema, and every value (indices in
/// range, ids within their vocabularies, no NaN/Inf, labels >= 0, oracle in [0, 1], at least one
/// valid candidate per request, no empty split). The first problem is thrown as one line naming
/// the file, the tensor and the first bad row. Files stay memory-mapped while the data set lives.
public final class Dataset: @unchecked Sendable {
    public let directory: String
    public let schema: DatasetSchema
    public let items: ItemTable
    /// Splits in schema order.
    public let splits: [DatasetSplit]

    public init(directory: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw EngineError.usage("\(directory): no such data set directory")
        }
        self.directory = directory
        let schema = try DatasetSchema.load(path: directory + "/" + DatasetSchema.fileName)
        self.schema = schema
        items = try ItemTable(path: directory + "/" + schema.itemsFile, schema: schema)
        splits = try schema.splits.map { try DatasetSplit(entry: $0, directory: directory, schema: schema) }
    }

    public func split(_ name: String) throws -> DatasetSplit {
        guard let s = splits.first(where: { $0.name == name }) else {
            throw EngineError.usage("\(directory): no split '\(name)' (has \(splits.map(\.name).joined(separator: ", ")))")
        }
        return s
    }

    public func hasSplit(_ name: String) -> Bool { splits.contains { $0.name == name } }
}
