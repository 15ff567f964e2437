import Foundation

/// A categorical field: its name and vocabulary size (ids are `0 ..< vocab`).
public struct CategoricalField: Codable, Sendable, Equatable {
    public var name: String
    public var vocab: Int

    public init(_ name: String, vocab: Int) {
        self.name = name
        self.vocab = vocab
    }
}

/// Sizes shared by every file of a data set.
public struct DatasetDims: Codable, Sendable, Equatable {
    /// Text embedding width D_t (0: no text).
    public var text: Int
    /// Image embedding width D_v (0: no image).
    public var image: Int
    /// Query vector width D_q (0: no query vector).
    public var query: Int
    /// Candidates per request after padding.
    public var kMax: Int
    /// Behaviours per request after padding (0: no behaviour sequences).
    public var lMax: Int

    public init(text: Int, image: Int, query: Int, kMax: Int, lMax: Int) {
        self.text = text
        self.image = image
        self.query = query
        self.kMax = kMax
        self.lMax = lMax
    }

    enum CodingKeys: String, CodingKey {
        case text, image, query
        case kMax = "k_max"
        case lMax = "l_max"
    }
}

/// One split (train, valid, test, ...) and its shard files, in request order.
public struct SplitEntry: Codable, Sendable, Equatable {
    public var name: String
    public var files: [String]

    public init(name: String, files: [String]) {
        self.name = name
        self.files = files
    }
}

/// Affine normalisation `(x - mean) / std` applied to list features before they were stored
/// (LETOR import); kept so the same transform can be applied to new data.
public struct FeatureNormalization: Codable, Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]

    public init(mean: [Double], std: [Double]) {
        self.mean = mean
        self.std = std
    }
}

/// `schema.json` of a data set directory (docs/DATA.md describes every field).
public struct DatasetSchema: Codable, Sendable, Equatable {
    /// The format version this engine writes; it reads this and older versions.
    public static let currentVersion = 1
    public static let formatName = "armmt-data"
    public static let fileName = "schema.json"

    public var format: String
    public var formatVersion: Int
    public var dims: DatasetDims
    /// Number of rows in the item table.
    public var items: Int
    /// The item table's file, relative to the directory.
    public var itemsFile: String
    public var itemCategorical: [CategoricalField]
    public var itemDense: [String]
    public var userFeatures: [CategoricalField]
    public var listFeatures: [String]
    public var targets: [String]
    public var mainTarget: String
    public var splits: [SplitEntry]
    public var listFeatureNormalization: FeatureNormalization?
    /// Free-form provenance (generator, seed, source files, ...).
    public var source: [String: String]?

    public init(dims: DatasetDims, items: Int, itemsFile: String = "items.safetensors",
                itemCategorical: [CategoricalField] = [], itemDense: [String] = [],
                userFeatures: [CategoricalField] = [], listFeatures: [String] = [],
                targets: [String], mainTarget: String, splits: [SplitEntry],
                listFeatureNormalization: FeatureNormalization? = nil, source: [String: String]? = nil) {
        format = Self.formatName
        formatVersion = Self.currentVersion
        self.dims = dims
        self.items = items
        self.itemsFile = itemsFile
        self.itemCategorical = itemCategorical
        self.itemDense = itemDense
        self.userFeatures = userFeatures
        self.listFeatures = listFeatures
        self.targets = targets
        self.mainTarget = mainTarget
        self.splits = splits
        self.listFeatureNormalization = listFeatureNormalization
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case format
        case formatVersion = "format_version"
        case dims, items
        case itemsFile = "items_file"
        case itemCategorical = "item_categorical"
        case itemDense = "item_dense"
        case userFeatures = "user_features"
        case listFeatures = "list_features"
        case targets
        case mainTarget = "main_target"
        case splits
        case listFeatureNormalization = "list_feature_normalization"
        case source
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        dims = try c.decode(DatasetDims.self, forKey: .dims)
        items = try c.decode(Int.self, forKey: .items)
        itemsFile = try c.decodeIfPresent(String.self, forKey: .itemsFile) ?? "items.safetensors"
        itemCategorical = try c.decodeIfPresent([CategoricalField].self, forKey: .itemCategorical) ?? []
        itemDense = try c.decodeIfPresent([String].self, forKey: .itemDense) ?? []
        userFeatures = try c.decodeIfPresent([CategoricalField].self, forKey: .userFeatures) ?? []
        listFeatures = try c.decodeIfPresent([String].self, forKey: .listFeatures) ?? []
        targets = try c.decode([String].self, forKey: .targets)
        mainTarget = try c.decode(String.self, forKey: .mainTarget)
        splits = try c.decode([SplitEntry].self, forKey: .splits)
        listFeatureNormalization = try c.decodeIfPresent(FeatureNormalization.self, forKey: .listFeatureNormalization)
        source = try c.decodeIfPresent([String: String].self, forKey: .source)
    }

    public var mainTargetIndex: Int { targets.firstIndex(of: mainTarget) ?? 0 }

    /// Reads and checks `path` (schema.json). A newer format version is refused before the rest
    /// is decoded, so its message is about the version, not about a field this engine lacks.
    public static func load(path: String) throws -> DatasetSchema {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError.runtime("\(path): cannot read the schema")
        }
        struct Version: Decodable {
            var format: String?
            var formatVersion: Int?
            enum CodingKeys: String, CodingKey { case format; case formatVersion = "format_version" }
        }
        let version: Version
        do {
            version = try JSONDecoder().decode(Version.self, from: data)
        } catch {
            throw EngineError.runtime("\(path): not a JSON object: \(Self.describe(error))")
        }
        guard version.format == formatName else {
            throw EngineError.runtime("\(path): \"format\" is \(version.format.map { "\"\($0)\"" } ?? "missing"), expected \"\(formatName)\"")
        }
        guard let v = version.formatVersion else { throw EngineError.runtime("\(path): \"format_version\" is missing") }
        guard v <= currentVersion else {
            throw EngineError.usage("\(path): format_version \(v) is newer than this armmt-gpu reads (\(currentVersion)); upgrade armmt-gpu")
        }
        guard v >= 1 else { throw EngineError.runtime("\(path): format_version \(v) is not a valid version") }
        let schema: DatasetSchema
        do {
            schema = try JSONDecoder().decode(DatasetSchema.self, from: data)
        } catch {
            throw EngineError.runtime("\(path): \(Self.describe(error))")
        }
        try schema.validate(path: path)
        return schema
    }

    /// Internal consistency of the schema itself (files are checked against it by `Dataset`).
    public func validate(path: String) throws {
        func fail(_ m: String) -> EngineError { EngineError.runtime("\(path): \(m)") }
        for (name, v) in [("dims.text", dims.text), ("dims.image", dims.image), ("dims.query", dims.query), ("dims.l_max", dims.lMax)] where v < 0 {
            throw fail("\(name) is \(v), must be >= 0")
        }
        if dims.kMax < 1 { throw fail("dims.k_max is \(dims.kMax), must be >= 1") }
        if items < 1 { throw fail("items is \(items), the item table must have at least one row") }
        if items > Int(Int32.max) { throw fail("items is \(items), more than int32 indices can address") }
        for f in itemCategorical + userFeatures where f.vocab < 1 {
            throw fail("categorical field '\(f.name)' has vocab \(f.vocab), must be >= 1")
        }
        if targets.isEmpty { throw fail("targets is empty") }
        if Set(targets).count != targets.count { throw fail("targets \(targets) repeat a name") }
        if !targets.contains(mainTarget) { throw fail("main_target '\(mainTarget)' is not one of targets \(targets)") }
        if splits.isEmpty { throw fail("splits is empty") }
        var names = Set<String>()
        var files = Set<String>([itemsFile])
        for s in splits {
            if !names.insert(s.name).inserted { throw fail("split '\(s.name)' is listed twice") }
            if s.files.isEmpty { throw fail("split '\(s.name)' lists no files") }
            for f in s.files {
                if f.hasPrefix("/") || f.contains("..") { throw fail("split '\(s.name)' file '\(f)' must be a plain path inside the directory") }
                if !files.insert(f).inserted { throw fail("file '\(f)' is used twice") }
            }
        }
        if itemsFile.hasPrefix("/") || itemsFile.contains("..") { throw fail("items_file '\(itemsFile)' must be a plain path inside the directory") }
        if let n = listFeatureNormalization, n.mean.count != listFeatures.count || n.std.count != listFeatures.count {
            throw fail("list_feature_normalization has \(n.mean.count) means and \(n.std.count) stds for \(listFeatures.count) list features")
        }
    }

    /// Pretty, key-sorted JSON (stable bytes for the same schema).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try encoder.encode(self)) + [0x0A]
    }

    public func write(to directory: String) throws {
        try AtomicFileWriter.write(try encoded(), to: directory + "/" + Self.fileName)
    }

    static func describe(_ error: Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ p: [CodingKey]) -> String {
            p.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch e {
        case .keyNotFound(let k, let ctx): return "missing key \"\(path(ctx.codingPath + [k]))\""
        case .typeMismatch(_, let ctx): return "\"\(path(ctx.codingPath))\" has the wrong type (\(ctx.debugDescription))"
        case .valueNotFound(_, let ctx): return "\"\(path(ctx.codingPath))\" is null"
        case .dataCorrupted(let ctx): return "invalid JSON at \"\(path(ctx.codingPath))\": \(ctx.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
