import Foundation

/// ARMMT as docs/MODEL.md specifies it, on any `Backend`.
///
/// Every parameter, activation, gradient and per-batch input tensor is allocated once, in
/// `init`, for the maximum batch size, and reused by every step: device memory stays flat.
/// A step uploads the batch's inputs (one write per input tensor, plus the embedding gather
/// plans; the item vectors come from a device copy of the item table when it fits, see
/// `ModelInputs`) and reads back only the losses (or, for `predict`, the logits and CAFU weights).
/// Every layer runs over all rows of the batch at once (one GEMM per Linear layer).
public final class ARMMTModel: TrainableModel {
    public let backend: Backend
    public let config: ModelConfig
    public let shape: ModelShape
    /// Creation order: docs/MODEL.md's order (projections, embeddings, behaviour attention,
    /// CAFUs, joint, MPSA blocks, heads). Names are the checkpoint names.
    public let parameters: [Parameter]
    public var targetCount: Int { shape.targets }
    /// Bytes of the item table's vectors kept in the backend's memory since the last batch
    /// (`DeviceItemVectors`); nil when that batch's vectors were gathered on the host.
    public var residentItemVectorBytes: Int? { inputs.residentVectors?.byteCount }

    /// Where batches of `items` will get their text and image vectors, in words (nil: the model
    /// reads neither).
    public func itemVectorPlacement(_ items: ItemTable) -> String? {
        shape.modalities.isEmpty ? nil : DeviceItemVectors.placement(items, shape.modalities, on: backend)
    }

    let inputs: ModelInputs
    /// `[R]` ones: bias gradients and per-slot embedding sums are GEMMs against it.
    private let ones: Tensor
    let encoders: [ModalityEncoder]
    let itemCatEmb: [Parameter]
    let itemProj: Linear
    let userEmb: [Parameter]
    let contextProj: Linear
    let positionEmb: Parameter
    let recencyEmb: Parameter?
    let behaviour: [BehaviourAttention]
    let itemFusion: FusionUnit?
    let persFusion: FusionUnit?
    let joint: Linear
    let blocks: [MPSABlock]
    let head: HeadMLP
    let aux: HeadMLP?
    /// Width of the auxiliary head's input: 3d, or 4d with `aux_input = r_product`.
    private let auxWidth: Int

    // Activations.
    private let e: Tensor
    private let c: Tensor
    /// `[N, 2d]` = `[c ⊕ e]`, the CAFU context (only for `fusion = cafu`).
    private let contextE: Tensor?
    private let ePos: Tensor
    /// `[N, 2d]` = `[h_I ⊕ h_P]`.
    private let hIP: Tensor
    /// `[N, 2d]` = `[r_item ⊕ r_pers]`, the MPSA queries' and keys' source with `mpsa_qk = r`
    /// (a half without its CAFU unit holds `e + pos`); nil with `h`, where the blocks read `hIP`.
    private let rIP: Tensor?
    private let dRIP: Tensor?
    /// Width of the main head's input: 4d, or 5d with the `interaction` product.
    private let headWidth: Int
    /// `[N, d]`: `r_item ⊙ r_pers` in the forward, its gradient in the backward; nil when
    /// neither head reads it (switches, no modality or no personalized branch).
    private let interaction: Tensor?
    private let headReadsProduct: Bool
    private let auxReadsProduct: Bool
    private let u: Tensor
    // Gradients of activations.
    private let dE: Tensor
    private let dC: Tensor
    private let dEPos: Tensor
    private let dHIP: Tensor
    private let dU: Tensor
    private let dItemInput: Tensor?
    private let dContextInput: Tensor?
    // Losses.
    private let mainWeights: Tensor
    private let losses: Tensor
    private let skipped: Tensor
    private let auxWeight: Tensor?
    private let auxLoss: Tensor?

    /// Builds the model for batches of up to `maxBatch` requests of data sets with `schema`.
    /// Throws `EngineError.usage` naming the config key when the config is invalid for the schema.
    public init(config: ModelConfig, schema: DatasetSchema, backend: Backend, maxBatch: Int) throws {
        let s = try ModelShape(config: config, schema: schema, maxBatch: maxBatch)
        self.backend = backend
        self.config = config
        shape = s
        let f = ParameterFactory(backend: backend, seed: config.seed)
        let be = backend, d = s.d, n = s.candidateRows, b = s.batch, m = s.modalityCount, em = s.embedding

        encoders = try s.modalities.map { try ModalityEncoder(f, s, $0) }
        itemCatEmb = try s.itemVocabs.enumerated().map { try f.normal("item_cat_emb.\($0.offset).weight", [$0.element, em]) }
        itemProj = try Linear(f, "item_proj", inputs: s.itemInputWidth, outputs: d)
        userEmb = try s.userVocabs.enumerated().map { try f.normal("user_emb.\($0.offset).weight", [$0.element, em]) }
        contextProj = try Linear(f, "context_proj", inputs: s.contextInputWidth, outputs: d)
        positionEmb = try f.normal("position_emb.weight", [s.k, d])
        recencyEmb = s.personalized ? try f.normal("recency_emb.weight", [s.l, d]) : nil
        behaviour = s.personalized ? try s.modalities.map { try BehaviourAttention(f, s, $0) } : []
        itemFusion = m > 0 ? try FusionUnit(f, s, name: "cafu_item", kind: config.fusion) : nil
        persFusion = s.personalized ? try FusionUnit(f, s, name: "cafu_pers", kind: config.fusion) : nil
        joint = try Linear(f, "joint", inputs: 2 * d, outputs: d)
        blocks = config.mpsa == .off ? [] : try (0..<config.blocks).map { try MPSABlock(f, s, index: $0) }
        let bothUnits = m > 0 && s.personalized
        headReadsProduct = config.interaction == .product && bothUnits
        auxReadsProduct = s.hasAux && config.auxInput == .rProduct && bothUnits
        headWidth = (headReadsProduct ? 5 : 4) * d
        auxWidth = (auxReadsProduct ? 4 : 3) * d
        head = try HeadMLP(f, "head", rows: n, widths: [headWidth, 2 * d, d, s.targets])
        aux = s.hasAux ? try HeadMLP(f, "aux_head", rows: n, widths: [auxWidth, d, 1]) : nil
        parameters = f.created

        inputs = try ModelInputs(s, backend: be)
        ones = try be.tensor([Float](repeating: 1, count: max(s.projectedRows, n)), shape: [max(s.projectedRows, n)])
        e = try be.makeTensor([n, d])
        c = try be.makeTensor([b, d])
        contextE = config.fusion == .cafu && m > 0 ? try be.makeTensor([n, 2 * d]) : nil
        ePos = try be.makeTensor([n, d])
        hIP = try be.makeTensor([n, 2 * d])
        let qkFromR = config.mpsa == .multi && config.mpsaQueryKey == .r
        rIP = qkFromR ? try be.makeTensor([n, 2 * d]) : nil
        dRIP = qkFromR ? try be.makeTensor([n, 2 * d]) : nil
        interaction = headReadsProduct || auxReadsProduct ? try be.makeTensor([n, d]) : nil
        u = try be.makeTensor([n, d])
        dE = try be.makeTensor([n, d])
        dC = try be.makeTensor([b, d])
        dEPos = try be.makeTensor([n, d])
        dHIP = try be.makeTensor([n, 2 * d])
        dU = try be.makeTensor([n, d])
        dItemInput = s.itemVocabs.isEmpty ? nil : try be.makeTensor([n, s.itemInputWidth])
        dContextInput = s.userVocabs.isEmpty ? nil : try be.makeTensor([b, s.contextInputWidth])
        mainWeights = try be.tensor([Float](repeating: 1 / Float(s.targets), count: s.targets), shape: [s.targets])
        losses = try be.makeTensor([s.targets])
        skipped = try be.makeTensor([s.targets], dtype: .int32)
        auxWeight = s.hasAux ? try be.tensor([config.auxWeight], shape: [1]) : nil
        auxLoss = s.hasAux ? try be.makeTensor([1]) : nil
        // Columns of the auxiliary input that no branch writes (no modality / no personalized
        // branch) hold r = 0 for good.
        if let aux { try be.fill(aux.input, with: 0) }
    }

    /// Builds the model from a config's JSON bytes (docs/MODEL.md keys).
    public convenience init(configJSON: Data, schema: DatasetSchema, backend: Backend, maxBatch: Int) throws {
        try self.init(config: try ModelConfig.decode(json: configJSON), schema: schema, backend: backend, maxBatch: maxBatch)
    }

    /// Names of the modalities in `Prediction`'s α arrays.
    public var modalityNames: [String] { shape.modalities.map(\.rawValue) }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    // MARK: Forward

    private func forward(training: Bool) throws {
        let be = backend, s = shape, d = s.d, n = s.candidateRows, b = s.batch, em = s.embedding
        for (enc, mod) in zip(encoders, s.modalities) {
            try enc.forward(be, x: inputs.x[mod]!, slots: inputs.projectionSlot!.indices)
        }

        for (i, table) in itemCatEmb.enumerated() {
            try be.embeddingGather(table: table.value, indices: inputs.itemSlots[i].indices, output: inputs.itemInput,
                                   column: i * em)
        }
        try itemProj.forward(be, rows: n, x: Slab(inputs.itemInput), y: Slab(e))
        for (i, table) in userEmb.enumerated() {
            try be.embeddingGather(table: table.value, indices: inputs.userSlots[i].indices, output: inputs.contextInput,
                                   column: s.queryDim + i * em)
        }
        try contextProj.forward(be, rows: b, x: Slab(inputs.contextInput), y: Slab(c))
        if let contextE {
            try be.copyColumns(rows: n, cols: d, from: Slab(c), to: Slab(contextE, ld: 2 * d), repeatRows: s.k)
            try be.copyColumns(rows: n, cols: d, from: Slab(e), to: Slab(contextE, ld: 2 * d, offset: d))
        }
        try be.copyColumns(rows: n, cols: d, from: Slab(e), to: Slab(ePos))
        try be.addToEveryRow(batch: b, table: positionEmb.value, x: ePos)

        for (j, att) in behaviour.enumerated() {
            let mod = s.modalities[j]
            try att.forward(be, modality: encoders[j].out, recency: recencyEmb!, keyMask: inputs.keyMask[mod]!)
        }
        let context = contextE ?? e
        if let itemFusion {
            for (j, enc) in encoders.enumerated() {
                try be.copyColumns(rows: n, cols: d, from: Slab(enc.out), to: Slab(itemFusion.x, ld: itemFusion.m * d, offset: j * d))
            }
            try itemFusion.forward(be, mask: inputs.itemMask!, context: context)
        }
        if let persFusion {
            for (j, att) in behaviour.enumerated() {
                try be.copyColumns(rows: n, cols: d, from: Slab(att.p), to: Slab(persFusion.x, ld: persFusion.m * d, offset: j * d))
            }
            try persFusion.forward(be, mask: inputs.persMask!, context: context)
        }
        // h_I = r_item + e + pos, h_P = r_pers + e + pos, side by side (and r_item, r_pers for mpsa_qk = r).
        for (half, fusion) in [itemFusion, persFusion].enumerated() {
            let dst = Slab(hIP, ld: 2 * d, offset: half * d)
            try be.copyColumns(rows: n, cols: d, from: Slab(ePos), to: dst)
            if let fusion { try be.copyColumns(rows: n, cols: d, from: Slab(fusion.r), to: dst, accumulate: true) }
            if let rIP {
                try be.copyColumns(rows: n, cols: d, from: Slab(fusion?.r ?? ePos), to: Slab(rIP, ld: 2 * d, offset: half * d))
            }
        }
        try joint.forward(be, rows: n, x: Slab(hIP), y: Slab(u))
        var z = u
        for block in blocks {
            try block.forward(be, u: z, qkIn: rIP ?? hIP, mask: inputs.candMask)
            z = block.z
        }

        // Main head input [z ⊕ h_I ⊕ h_P ⊕ c].
        let hw = headWidth
        try be.copyColumns(rows: n, cols: d, from: Slab(z), to: Slab(head.input, ld: hw))
        try be.copyColumns(rows: n, cols: 2 * d, from: Slab(hIP), to: Slab(head.input, ld: hw, offset: d))
        try be.copyColumns(rows: n, cols: d, from: Slab(c), to: Slab(head.input, ld: hw, offset: 3 * d), repeatRows: s.k)
        if let interaction, let itemFusion, let persFusion, headReadsProduct || training {
            // r_item ⊙ r_pers: the candidate's match with the user, which an MLP would
            // otherwise have to build as a product of its inputs (RESULTS.md).
            try be.multiply(itemFusion.r, persFusion.r, out: interaction, accumulate: false)
            if headReadsProduct {
                try be.copyColumns(rows: n, cols: d, from: Slab(interaction), to: Slab(head.input, ld: hw, offset: 4 * d))
            }
        }
        try head.forward(be)
        if training, let aux {
            // Auxiliary input [r_item ⊕ r_pers ⊕ c (⊕ r_item ⊙ r_pers)].
            let aw = auxWidth
            for (half, fusion) in [itemFusion, persFusion].enumerated() {
                if let fusion {
                    try be.copyColumns(rows: n, cols: d, from: Slab(fusion.r), to: Slab(aux.input, ld: aw, offset: half * d))
                }
            }
            try be.copyColumns(rows: n, cols: d, from: Slab(c), to: Slab(aux.input, ld: aw, offset: 2 * d), repeatRows: s.k)
            if auxReadsProduct, let interaction {
                try be.copyColumns(rows: n, cols: d, from: Slab(interaction), to: Slab(aux.input, ld: aw, offset: 3 * d))
            }
            try aux.forward(be)
        }
    }

    /// Losses and `∂L/∂logits` of the heads (weights fold in 1/T and λ).
    private func computeLosses() throws {
        let be = backend
        switch config.loss {
        case .bce:
            try be.bceWithLogits(logits: head.output, labels: inputs.labels, labelColumn: 0, rowMask: inputs.candMask,
                                 weights: mainWeights, losses: losses, dLogits: head.dOutput)
        case .listwise:
            try be.listwiseSoftmaxCrossEntropy(logits: head.output, labels: inputs.labels, labelColumn: 0, mask: inputs.candMask,
                                               weights: mainWeights, losses: losses, skipped: skipped, dLogits: head.dOutput)
        }
        if let aux, let auxWeight, let auxLoss {
            try be.bceWithLogits(logits: aux.output, labels: inputs.labels, labelColumn: shape.mainTarget,
                                 rowMask: inputs.candMask, weights: auxWeight, losses: auxLoss, dLogits: aux.dOutput)
        }
    }

    // MARK: Backward

    private func backward() throws {
        let be = backend, s = shape, d = s.d, n = s.candidateRows, b = s.batch, em = s.embedding
        try head.backward(be, ones: ones)
        try aux?.backward(be, ones: ones)

        try be.fill(dHIP, with: 0)
        let dTop = blocks.last?.dZ ?? dU
        let hw = headWidth
        try be.copyColumns(rows: n, cols: d, from: Slab(head.dInput, ld: hw), to: Slab(dTop))
        try be.copyColumns(rows: n, cols: 2 * d, from: Slab(head.dInput, ld: hw, offset: d), to: Slab(dHIP), accumulate: true)
        if let dRIP { try be.fill(dRIP, with: 0) }
        for i in stride(from: blocks.count - 1, through: 0, by: -1) {
            try blocks[i].backward(be, u: i == 0 ? u : blocks[i - 1].z, qkIn: rIP ?? hIP, mask: inputs.candMask,
                                   dU: i == 0 ? dU : blocks[i - 1].dZ, dQKIn: dRIP ?? dHIP, ones: ones)
        }
        try joint.backward(be, rows: n, dy: Slab(dU), x: Slab(hIP), dx: Slab(dHIP), accumulateDX: true, ones: ones)

        // ∂L/∂r (h and the auxiliary input), ∂L/∂(e + pos) (both halves of h).
        for (half, fusion) in [itemFusion, persFusion].enumerated() {
            guard let fusion else { continue }
            try be.copyColumns(rows: n, cols: d, from: Slab(dHIP, ld: 2 * d, offset: half * d), to: Slab(fusion.dR))
            if let dRIP {
                try be.copyColumns(rows: n, cols: d, from: Slab(dRIP, ld: 2 * d, offset: half * d), to: Slab(fusion.dR),
                                   accumulate: true)
            }
            if let aux {
                try be.copyColumns(rows: n, cols: d, from: Slab(aux.dInput, ld: auxWidth, offset: half * d), to: Slab(fusion.dR),
                                   accumulate: true)
            }
        }
        if let interaction, let itemFusion, let persFusion {
            // ∂(r_item ⊙ r_pers): the product's buffer now holds its gradient from both heads.
            if headReadsProduct {
                try be.copyColumns(rows: n, cols: d, from: Slab(head.dInput, ld: hw, offset: 4 * d), to: Slab(interaction))
            }
            if auxReadsProduct, let aux {
                try be.copyColumns(rows: n, cols: d, from: Slab(aux.dInput, ld: auxWidth, offset: 3 * d), to: Slab(interaction),
                                   accumulate: headReadsProduct)
            }
            try be.multiply(interaction, persFusion.r, out: itemFusion.dR, accumulate: true)
            try be.multiply(interaction, itemFusion.r, out: persFusion.dR, accumulate: true)
        }
        try be.copyColumns(rows: n, cols: d, from: Slab(dHIP, ld: 2 * d), to: Slab(dEPos))
        try be.copyColumns(rows: n, cols: d, from: Slab(dHIP, ld: 2 * d, offset: d), to: Slab(dEPos), accumulate: true)
        if let dRIP {
            for (half, fusion) in [itemFusion, persFusion].enumerated() where fusion == nil {
                try be.copyColumns(rows: n, cols: d, from: Slab(dRIP, ld: 2 * d, offset: half * d), to: Slab(dEPos), accumulate: true)
            }
        }
        try be.sumEveryRow(batch: b, dx: dEPos, dTable: positionEmb.grad, ones: ones)
        let context = contextE ?? e
        try itemFusion?.backward(be, mask: inputs.itemMask!, context: context, ones: ones)
        try persFusion?.backward(be, mask: inputs.persMask!, context: context, ones: ones)

        // ∂L/∂e and ∂L/∂c from every use.
        try be.copyColumns(rows: n, cols: d, from: Slab(dEPos), to: Slab(dE))
        try be.sumRows(groups: b, size: s.k, cols: d, from: Slab(head.dInput, ld: hw, offset: 3 * d), to: Slab(dC))
        if let aux {
            try be.sumRows(groups: b, size: s.k, cols: d, from: Slab(aux.dInput, ld: auxWidth, offset: 2 * d), to: Slab(dC),
                           accumulate: true)
        }
        for fusion in [itemFusion, persFusion] {
            guard let dCtx = fusion?.dContext else { continue }
            try be.sumRows(groups: b, size: s.k, cols: d, from: Slab(dCtx, ld: 2 * d), to: Slab(dC), accumulate: true)
            try be.copyColumns(rows: n, cols: d, from: Slab(dCtx, ld: 2 * d, offset: d), to: Slab(dE), accumulate: true)
        }

        // Modality encoders: candidate rows from the item CAFU, then behaviour attention adds
        // its query gradient and writes the behaviour rows.
        if let itemFusion {
            for (j, enc) in encoders.enumerated() {
                try be.copyColumns(rows: n, cols: d, from: Slab(itemFusion.dX, ld: itemFusion.m * d, offset: j * d), to: Slab(enc.dOut))
            }
        }
        if let persFusion {
            for (j, att) in behaviour.enumerated() {
                try be.copyColumns(rows: n, cols: d, from: Slab(persFusion.dX, ld: persFusion.m * d, offset: j * d), to: Slab(att.dP))
                try att.backward(be, modality: encoders[j].out, dModality: encoders[j].dOut, recency: recencyEmb!,
                                 keyMask: inputs.keyMask[s.modalities[j]]!, accumulateRecency: j > 0, ones: ones)
            }
        }
        for (enc, mod) in zip(encoders, s.modalities) {
            try enc.backward(be, x: inputs.x[mod]!, plan: inputs.projectionPlan!, ones: ones)
        }

        try itemProj.backward(be, rows: n, dy: Slab(dE), x: Slab(inputs.itemInput), dx: dItemInput.map { Slab($0) }, ones: ones)
        for (i, table) in itemCatEmb.enumerated() {
            try be.fill(table.grad, with: 0)
            try be.embeddingBackward(plan: inputs.itemPlans[i], dOutput: dItemInput!, column: i * em, dTable: table.grad)
        }
        try contextProj.backward(be, rows: b, dy: Slab(dC), x: Slab(inputs.contextInput), dx: dContextInput.map { Slab($0) },
                                 ones: ones)
        for (i, table) in userEmb.enumerated() {
            try be.fill(table.grad, with: 0)
            try be.embeddingBackward(plan: inputs.userPlans[i], dOutput: dContextInput!, column: s.queryDim + i * em,
                                     dTable: table.grad)
        }
    }

    // MARK: TrainableModel

    public func computeGradients(_ batch: Batch, items: ItemTable) throws -> LossReport {
        try inputs.load(backend, batch, items: items)
        try forward(training: true)
        try computeLosses()
        try backward()
        return try lossReport()
    }

    /// The losses of `batch` without a backward (validation loss).
    public func evaluateLoss(_ batch: Batch, items: ItemTable) throws -> LossReport {
        try inputs.load(backend, batch, items: items)
        try forward(training: true)
        try computeLosses()
        return try lossReport()
    }

    private func lossReport() throws -> LossReport {
        let perTarget = try backend.read(losses)
        let main = perTarget.reduce(0, +) / Float(perTarget.count)
        let auxValue = try auxLoss.map { try backend.read($0)[0] } ?? 0
        return LossReport(total: main + config.auxWeight * auxValue, main: main, aux: auxValue, perTarget: perTarget)
    }

    public func predict(_ batch: Batch, items: ItemTable) throws -> Prediction {
        try inputs.load(backend, batch, items: items)
        try forward(training: false)
        let rows = batch.size * shape.k
        let logits = Array(try backend.read(head.output)[0..<(rows * shape.targets)])
        return Prediction(logits: logits, itemAlpha: try itemFusion?.readAlpha(backend, candidates: rows),
                          personalAlpha: try persFusion?.readAlpha(backend, candidates: rows), modalityNames: modalityNames)
    }
}
