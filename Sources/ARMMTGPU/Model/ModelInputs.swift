/// The per-batch input tensors of the model (docs/MODEL.md, "Inputs of one batch"), allocated
/// once for the maximum batch size with reusable host staging buffers: a batch is assembled
/// on the host (item-table gathers, masks) and each input tensor is uploaded with one write.
///
/// A batch smaller than the maximum is padded with empty requests (no candidate, no
/// behaviour, zero labels): every op masks them, so they add nothing to losses or gradients,
/// and the tensors keep one shape.
final class ModelInputs {
    let s: ModelShape

    // Host staging (max batch).
    private var candidates: [Int32]
    private var behaviours: [Int32]
    private var hostX: [Modality: [Float]] = [:]
    private var presenceText: [Float]
    private var presenceImage: [Float]
    private var hostItemMask: [Float]
    private var hostPersMask: [Float]
    private var hostKeyMask: [Modality: [Float]] = [:]
    private var hostCandMask: [Float]
    private var hostLabels: [Float]
    private var hostItemInput: [Float]
    private var hostContextInput: [Float]
    private var fieldIndices: [Int32]
    private var userIndices: [Int32]

    // Device tensors.
    /// `[R, D_m]` per modality: candidate rows, then behaviour rows when personalized.
    let x: [Modality: Tensor]
    /// `[N, M]` presence of each modality of each candidate (the item CAFU's mask).
    let itemMask: Tensor?
    /// `[N, M]`: modality m is present for the personalized CAFU when the request has a behaviour with it.
    let persMask: Tensor?
    /// `[B, L]` per modality: valid behaviours that have the modality (attention key mask).
    let keyMask: [Modality: Tensor]
    /// `[B, K]` valid candidates.
    let candMask: Tensor
    /// `[B, K, T]` labels.
    let labels: Tensor
    /// `[N, F_c·E + F_d + F_l]`: embedding columns gathered on the device, the rest uploaded.
    let itemInput: Tensor
    /// `[B, D_q + F_u·E]`.
    let contextInput: Tensor
    let itemSlots: [EmbeddingPlanSlot]
    let userSlots: [EmbeddingPlanSlot]
    /// This batch's gather plans (set by `load`).
    private(set) var itemPlans: [EmbeddingDevicePlan] = []
    private(set) var userPlans: [EmbeddingDevicePlan] = []
    /// Requests in the current batch (the rest of the maximum batch is padding).
    private(set) var size = 0

    init(_ s: ModelShape, backend be: Backend) throws {
        self.s = s
        let n = s.candidateRows, r = s.projectedRows, m = s.modalityCount
        candidates = .init(repeating: -1, count: n)
        behaviours = .init(repeating: -1, count: s.behaviourRows)
        presenceText = .init(repeating: 0, count: r)
        presenceImage = .init(repeating: 0, count: r)
        var x: [Modality: Tensor] = [:]
        for mod in s.modalities {
            hostX[mod] = .init(repeating: 0, count: r * s.dim(mod))
            x[mod] = try be.makeTensor([r, s.dim(mod)])
        }
        self.x = x
        hostItemMask = .init(repeating: 0, count: n * m)
        itemMask = m > 0 ? try be.makeTensor([n, m]) : nil
        hostPersMask = .init(repeating: 0, count: s.personalized ? n * m : 0)
        persMask = s.personalized ? try be.makeTensor([n, m]) : nil
        var keyMask: [Modality: Tensor] = [:]
        if s.personalized {
            for mod in s.modalities {
                hostKeyMask[mod] = .init(repeating: 0, count: s.behaviourRows)
                keyMask[mod] = try be.makeTensor([s.batch, s.l])
            }
        }
        self.keyMask = keyMask
        hostCandMask = .init(repeating: 0, count: n)
        candMask = try be.makeTensor([s.batch, s.k])
        hostLabels = .init(repeating: 0, count: n * s.targets)
        labels = try be.makeTensor([s.batch, s.k, s.targets])
        hostItemInput = .init(repeating: 0, count: n * s.itemInputWidth)
        itemInput = try be.makeTensor([n, s.itemInputWidth])
        hostContextInput = .init(repeating: 0, count: s.batch * s.contextInputWidth)
        contextInput = try be.makeTensor([s.batch, s.contextInputWidth])
        denseScratch = .init(repeating: 0, count: n * s.denseCount)
        categoricalScratch = .init(repeating: 0, count: n * s.itemVocabs.count)
        fieldIndices = .init(repeating: -1, count: n)
        userIndices = .init(repeating: -1, count: s.batch)
        itemSlots = try s.itemVocabs.map { try EmbeddingPlanSlot(be, count: n, tableRows: $0) }
        userSlots = try s.userVocabs.map { try EmbeddingPlanSlot(be, count: s.batch, tableRows: $0) }
    }

    private func check(_ batch: Batch, _ items: ItemTable) throws {
        func fail(_ what: String) -> EngineError { .usage("model batch: \(what)") }
        guard batch.size >= 1, batch.size <= s.batch else {
            throw fail("\(batch.size) requests; the model was built for 1...\(s.batch)")
        }
        guard batch.kMax == s.k, batch.lMax == s.l, batch.targetCount == s.targets, batch.queryDim == s.queryDim,
              batch.userFeatureCount == s.userVocabs.count, batch.listFeatureCount == s.listCount else {
            throw fail("K=\(batch.kMax) L=\(batch.lMax) T=\(batch.targetCount) D_q=\(batch.queryDim) F_u=\(batch.userFeatureCount) F_l=\(batch.listFeatureCount) differ from the model's schema (K=\(s.k) L=\(s.l) T=\(s.targets) D_q=\(s.queryDim) F_u=\(s.userVocabs.count) F_l=\(s.listCount))")
        }
        guard items.textDim == s.textDim, items.imageDim == s.imageDim, items.categoricalCount == s.itemVocabs.count,
              items.denseCount == s.denseCount else {
            throw fail("the item table (D_t=\(items.textDim) D_v=\(items.imageDim) F_c=\(items.categoricalCount) F_d=\(items.denseCount)) differs from the model's schema")
        }
    }

    /// Assembles `batch` on the host and uploads every input tensor and gather plan.
    func load(_ be: Backend, _ batch: Batch, items: ItemTable) throws {
        try check(batch, items)
        let b = batch.size, k = s.k, l = s.l, n = s.candidateRows, nb = b * k
        size = b
        // Candidates and behaviours of the real requests, padding after them.
        candidates.withUnsafeMutableBufferPointer { dst in
            batch.candidates.withUnsafeBufferPointer { dst.baseAddress!.update(from: $0.baseAddress!, count: nb) }
            (dst.baseAddress! + nb).update(repeating: -1, count: n - nb)
        }
        if l > 0 {
            behaviours.withUnsafeMutableBufferPointer { dst in
                batch.behaviours.withUnsafeBufferPointer { dst.baseAddress!.update(from: $0.baseAddress!, count: b * l) }
                (dst.baseAddress! + b * l).update(repeating: -1, count: s.behaviourRows - b * l)
            }
        }
        try loadModalities(be, items)
        try loadMasks(be, batch)
        try loadItemFeatures(be, batch, items)
        try loadContext(be, batch)
    }

    private func loadModalities(_ be: Backend, _ items: ItemTable) throws {
        let n = s.candidateRows
        candidates.withUnsafeBufferPointer { c in
            items.gatherPresence(c, text: &presenceText, image: &presenceImage)
        }
        if s.personalized {
            behaviours.withUnsafeBufferPointer { bh in
                presenceText.withUnsafeMutableBufferPointer { t in
                    presenceImage.withUnsafeMutableBufferPointer { i in
                        items.gatherPresence(bh, text: t.baseAddress! + n, image: i.baseAddress! + n)
                    }
                }
            }
        }
        for mod in s.modalities {
            let width = s.dim(mod)
            hostX[mod]!.withUnsafeMutableBufferPointer { out in
                let base = out.baseAddress!
                func gather(_ ids: UnsafeBufferPointer<Int32>, _ at: UnsafeMutablePointer<Float>) {
                    if mod == .text { items.gatherText(ids, into: at) } else { items.gatherImage(ids, into: at) }
                }
                candidates.withUnsafeBufferPointer { gather($0, base) }
                if s.personalized { behaviours.withUnsafeBufferPointer { gather($0, base + n * width) } }
            }
            try be.write(hostX[mod]!, to: x[mod]!)
        }
    }

    private func presence(_ mod: Modality) -> [Float] { mod == .text ? presenceText : presenceImage }

    private func loadMasks(_ be: Backend, _ batch: Batch) throws {
        let b = batch.size, k = s.k, l = s.l, n = s.candidateRows, m = s.modalityCount, nb = b * k
        for i in 0..<n { hostCandMask[i] = i < nb ? batch.candidateMask[i] : 0 }
        try be.write(hostCandMask, to: candMask)
        hostLabels.withUnsafeMutableBufferPointer { dst in
            let t = s.targets
            batch.labels.withUnsafeBufferPointer { dst.baseAddress!.update(from: $0.baseAddress!, count: nb * t) }
            (dst.baseAddress! + nb * t).update(repeating: 0, count: (n - nb) * t)
        }
        try be.write(hostLabels, to: labels)
        guard m > 0, let itemMask else { return }
        for (j, mod) in s.modalities.enumerated() {
            let p = presence(mod)
            for i in 0..<n { hostItemMask[i * m + j] = p[i] }
        }
        try be.write(hostItemMask, to: itemMask)
        guard s.personalized, let persMask else { return }
        for (j, mod) in s.modalities.enumerated() {
            let p = presence(mod)
            for r in 0..<s.behaviourRows { hostKeyMask[mod]![r] = p[n + r] }
            try be.write(hostKeyMask[mod]!, to: keyMask[mod]!)
            for req in 0..<s.batch {
                var any: Float = 0
                for t in 0..<l where p[n + req * l + t] > 0 { any = 1; break }
                for c in 0..<k { hostPersMask[(req * k + c) * m + j] = any }
            }
        }
        try be.write(hostPersMask, to: persMask)
    }

    private func loadItemFeatures(_ be: Backend, _ batch: Batch, _ items: ItemTable) throws {
        let n = s.candidateRows, w = s.itemInputWidth, nb = batch.size * s.k
        let fc = s.itemVocabs.count, fd = s.denseCount, fl = s.listCount, e = s.embedding
        guard w > 0 else { itemPlans = []; return }
        if fd > 0 {
            // Dense statistics land in their columns through a packed scratch block.
            candidates.withUnsafeBufferPointer { c in
                denseScratch.withUnsafeMutableBufferPointer { items.gatherDense(c, into: $0.baseAddress!) }
            }
            for i in 0..<n {
                for f in 0..<fd { hostItemInput[i * w + fc * e + f] = denseScratch[i * fd + f] }
            }
        }
        if fl > 0 {
            for i in 0..<n {
                for f in 0..<fl { hostItemInput[i * w + fc * e + fd + f] = i < nb ? batch.listFeatures[i * fl + f] : 0 }
            }
        }
        try be.write(hostItemInput, to: itemInput)
        guard fc > 0 else { itemPlans = []; return }
        candidates.withUnsafeBufferPointer { c in
            categoricalScratch.withUnsafeMutableBufferPointer { items.gatherCategorical(c, into: $0.baseAddress!) }
        }
        var plans: [EmbeddingDevicePlan] = []
        for f in 0..<fc {
            // Padding candidates gather zeros and give no gradient to the table.
            for i in 0..<n { fieldIndices[i] = candidates[i] < 0 ? -1 : categoricalScratch[i * fc + f] }
            plans.append(try itemSlots[f].upload(be, indices: fieldIndices))
        }
        itemPlans = plans
    }

    private var denseScratch: [Float]
    private var categoricalScratch: [Int32]

    private func loadContext(_ be: Backend, _ batch: Batch) throws {
        let b = batch.size, w = s.contextInputWidth, dq = s.queryDim, fu = s.userVocabs.count
        guard w > 0 else { userPlans = []; return }
        for r in 0..<s.batch {
            for j in 0..<dq { hostContextInput[r * w + j] = r < b ? batch.query[r * dq + j] : 0 }
        }
        try be.write(hostContextInput, to: contextInput)
        var plans: [EmbeddingDevicePlan] = []
        for f in 0..<fu {
            for r in 0..<s.batch { userIndices[r] = r < b ? batch.users[r * fu + f] : -1 }
            plans.append(try userSlots[f].upload(be, indices: userIndices))
        }
        userPlans = plans
    }
}
