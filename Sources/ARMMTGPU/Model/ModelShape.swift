/// Every size the model derives from its config and the data set's schema, after validation.
/// The names follow docs/MODEL.md: B (maximum batch), K, L, d, H, E, T.
public struct ModelShape: Sendable, Equatable {
    public let config: ModelConfig
    public let batch: Int
    public let k: Int
    public let l: Int
    public let d: Int
    public let heads: Int
    public let headDim: Int
    public let embedding: Int
    public let targets: Int
    public let mainTarget: Int
    /// The modalities the model reads, in canonical order (text before image).
    public let modalities: [Modality]
    public let textDim: Int
    public let imageDim: Int
    public let queryDim: Int
    public let itemVocabs: [Int]
    public let userVocabs: [Int]
    public let denseCount: Int
    public let listCount: Int
    /// The personalized branch runs: behaviour attention on, a modality to attend with, L > 0.
    public let personalized: Bool

    /// Candidate rows N = B·K and behaviour rows B·L.
    public var candidateRows: Int { batch * k }
    public var behaviourRows: Int { batch * l }
    /// Rows the modality projections run over: candidates, then behaviours when personalized.
    public var projectedRows: Int { candidateRows + (personalized ? behaviourRows : 0) }
    public var modalityCount: Int { modalities.count }
    /// `item_proj` input: `F_c·E + F_d + F_l`.
    public var itemInputWidth: Int { itemVocabs.count * embedding + denseCount + listCount }
    /// `context_proj` input: `D_q + F_u·E`.
    public var contextInputWidth: Int { queryDim + userVocabs.count * embedding }
    public var hasAux: Bool { config.auxWeight > 0 }

    func dim(_ m: Modality) -> Int { m == .text ? textDim : imageDim }

    /// Validates `config` against `schema` and derives the sizes for batches of up to `maxBatch`.
    public init(config: ModelConfig, schema: DatasetSchema, maxBatch: Int) throws {
        try config.validate(schema: schema)
        guard maxBatch >= 1 else { throw EngineError.usage("model: maximum batch size \(maxBatch) must be >= 1") }
        self.config = config
        batch = maxBatch
        k = schema.dims.kMax
        l = schema.dims.lMax
        d = config.width
        heads = config.heads
        headDim = config.width / config.heads
        embedding = config.embeddingWidth
        targets = schema.targets.count
        mainTarget = schema.mainTargetIndex
        modalities = Modality.allCases.filter { config.modalities.contains($0) }
        textDim = schema.dims.text
        imageDim = schema.dims.image
        queryDim = schema.dims.query
        itemVocabs = schema.itemCategorical.map(\.vocab)
        userVocabs = schema.userFeatures.map(\.vocab)
        denseCount = schema.itemDense.count
        listCount = schema.listFeatures.count
        personalized = config.behaviourAttention && !modalities.isEmpty && schema.dims.lMax > 0
        let largest = max(projectedRows * max(textDim, imageDim, 4 * d), candidateRows * max(5 * d, itemInputWidth))
        guard largest < Int(Int32.max) else {
            throw EngineError.usage("model: batch size \(maxBatch) makes activations beyond 2^31 elements; use a smaller batch")
        }
    }
}

extension ModelConfig {
    /// Refuses invalid values with one message naming the key (or the schema field).
    public func validate(schema: DatasetSchema) throws {
        func fail(_ key: String, _ what: String) -> EngineError { .usage("model config: \"\(key)\" \(what)") }
        try checkPreset()
        guard width >= 1 else { throw fail("width", "is \(width), must be >= 1") }
        guard heads >= 1 else { throw fail("heads", "is \(heads), must be >= 1") }
        guard width % heads == 0 else { throw fail("heads", "is \(heads), must divide width \(width)") }
        if mpsa == .multi && heads % 2 != 0 {
            throw fail("heads", "is \(heads), must be even for mpsa \"multi\" (half the heads per perspective)")
        }
        guard width / heads <= AttentionParameters.maxHeadDim else {
            throw fail("heads", "is \(heads): head width \(width / heads) exceeds \(AttentionParameters.maxHeadDim)")
        }
        guard blocks >= 1 else { throw fail("blocks", "is \(blocks), must be >= 1") }
        guard embeddingWidth >= 1 else { throw fail("embedding_width", "is \(embeddingWidth), must be >= 1") }
        guard cafuHidden >= 1 else { throw fail("cafu_hidden", "is \(cafuHidden), must be >= 1") }
        guard auxWeight.isFinite, auxWeight >= 0 else { throw fail("aux_weight", "is \(auxWeight), must be finite and >= 0") }
        if Set(modalities).count != modalities.count {
            throw fail("modalities", "lists a modality twice: \(modalities.map(\.rawValue))")
        }
        if modalities.contains(.text) && schema.dims.text < 1 {
            throw fail("modalities", "includes \"text\" but the data set has no text vectors (dims.text = 0)")
        }
        if modalities.contains(.image) && schema.dims.image < 1 {
            throw fail("modalities", "includes \"image\" but the data set has no image vectors (dims.image = 0)")
        }
        guard schema.dims.kMax >= 1 else {
            throw EngineError.usage("model: the data set's dims.k_max is \(schema.dims.kMax), must be >= 1")
        }
        guard schema.dims.lMax >= 0, !schema.targets.isEmpty else {
            throw EngineError.usage("model: the data set needs dims.l_max >= 0 and at least one target")
        }
    }
}
