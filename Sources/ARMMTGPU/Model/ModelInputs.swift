/// The per-batch input tensors of the model (docs/MODEL.md, "Inputs of one batch"), allocated
/// once for the maximum batch size with reusable host staging buffers: a batch is assembled
/// on the host (item-table gathers, masks) and each input tensor is uploaded with one write.
///
/// The modality projections run once per distinct item: the candidates and behaviours of a
/// batch share the item table, repeat items and hold padding, so the batch's valid item ids are
/// deduplicated here (in order of first appearance, candidates before behaviours) and only
/// their vectors are projected; a gather plan spreads the projected rows back to the slots.
/// Their vectors are gathered on the device from a copy of the item table when it fits the
/// backend's budget (`DeviceItemVectors`: then only their ids are written), on the host
/// otherwise.
///
/// A batch smaller than the maximum is padded with empty requests (no candidate, no
/// behaviour, zero labels): every op masks them, so they add nothing to losses or gradients,
/// and the tensors keep one shape.
final class ModelInputs {
    let s: ModelShape

    // Host staging (max batch).
    private var candidates: [Int32]
    private var behaviours: [Int32]
    /// Distinct valid item ids of the batch, first appearance first (`uniqueCount` of them).
    private var uniqueIDs: [Int32]
    /// Per projected slot (candidates, then behaviours): its row in `uniqueIDs`, −1 for padding.
    private var slotRows: [Int32]
    /// Item id → row in `uniqueIDs` while a batch is deduplicated; −1 otherwise (kept so).
    private var itemRow: [Int32] = []
    /// The item table's vectors in the backend's memory when they fit its budget; then `x` is
    /// gathered there from `uniqueIDTensor`.
    private(set) var residentVectors: DeviceItemVectors?
    private var uniqueIDTensor: Tensor?
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
    /// `[R, D_m]` per modality, holding the current batch's distinct items in its first rows.
    private let xStorage: [Modality: Tensor]
    /// `[U, D_m]` per modality: the vectors of the batch's distinct items (set by `load`; U ≥ 1,
    /// a batch without items has one zero row that no slot names).
    private(set) var x: [Modality: Tensor] = [:]
    /// U, the rows of `x`.
    private(set) var uniqueRows = 1
    /// Spreads the `[U, d]` projected items to the `[R, d]` slots (padding slots get zeros),
    /// and its plan sums the slots' gradients back per item.
    let projectionSlot: EmbeddingPlanSlot?
    private(set) var projectionPlan: EmbeddingDevicePlan?
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
            x[mod] = try be.makeTensor([r, s.dim(mod)])
        }
        xStorage = x
        uniqueIDs = .init(repeating: -1, count: m > 0 ? r : 0)
        slotRows = .init(repeating: -1, count: m > 0 ? r : 0)
        projectionSlot = m > 0 ? try EmbeddingPlanSlot(be, count: r, tableRows: r) : nil
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
        try gatherKeptVectors(be)
    }

    /// The batch's item vectors from the device copy, enqueued after every write of `load`: a
    /// blocking write (CPU devices, or staging off) waits for the queue, and need not wait for these.
    private func gatherKeptVectors(_ be: Backend) throws {
        guard let kept = residentVectors else { return }
        let ids = uniqueIDTensor!.view([uniqueRows])
        for mod in s.modalities { try be.embeddingGather(table: kept.tables[mod]!, indices: ids, output: x[mod]!) }
    }

    private func loadModalities(_ be: Backend, _ items: ItemTable) throws {
        let n = s.candidateRows
        // Validates every item id before anything indexes the item table with it.
        let u = s.modalities.isEmpty ? 0 : try deduplicate(items)
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
        guard !s.modalities.isEmpty, let projectionSlot else { return }
        uniqueRows = max(u, 1)
        projectionPlan = try projectionSlot.upload(be, indices: slotRows, tableRows: uniqueRows)
        for mod in s.modalities { x[mod] = xStorage[mod]!.view([uniqueRows, s.dim(mod)]) }
        if try keepVectors(be, items) != nil {
            // A batch without items gathers one zero row (index −1) that no slot names.
            try be.writeInt32(u == 0 ? [-1] : Array(uniqueIDs[0..<u]), to: uniqueIDTensor!.view([uniqueRows]))
            return
        }
        for mod in s.modalities {
            let width = s.dim(mod)
            let view = x[mod]!
            func gather(into out: UnsafeMutablePointer<Float>) {
                if u == 0 { out.update(repeating: 0, count: width); return }
                uniqueIDs.withUnsafeBufferPointer { all in
                    items.gatherVectors(mod, UnsafeBufferPointer(rebasing: all[0..<u]), into: out)
                }
            }
            // The CPU backend's tensor is gathered into directly; other devices get one write.
            if let cpu = be as? CPUBackend {
                gather(into: try cpu.host(view, "model input \(mod.rawValue) vectors"))
            } else {
                try be.write([Float](unsafeUninitializedCapacity: uniqueRows * width) { buffer, count in
                    gather(into: buffer.baseAddress!)
                    count = uniqueRows * width
                }, to: view)
            }
        }
    }

    /// The device copy of `items`' vectors, made on the first batch of a table when it fits the
    /// backend's budget; nil: gather on the host. A copy of another table is released first.
    private func keepVectors(_ be: Backend, _ items: ItemTable) throws -> DeviceItemVectors? {
        if let r = residentVectors, r.items === items { return r }
        residentVectors = nil
        guard DeviceItemVectors.fits(items, s.modalities, on: be) else { return nil }
        if uniqueIDTensor == nil { uniqueIDTensor = try be.makeTensor([s.projectedRows], dtype: .int32) }
        residentVectors = try DeviceItemVectors(be, items: items, modalities: s.modalities)
        return residentVectors
    }

    /// Fills `uniqueIDs` and `slotRows` from the candidates (and behaviours when personalized);
    /// returns the number of distinct valid items.
    private func deduplicate(_ items: ItemTable) throws -> Int {
        if itemRow.count != items.count { itemRow = .init(repeating: -1, count: items.count) }
        let n = s.candidateRows
        var u = 0
        var bad: (slot: Int, id: Int32)? = nil
        itemRow.withUnsafeMutableBufferPointer { row in
            uniqueIDs.withUnsafeMutableBufferPointer { ids in
                slotRows.withUnsafeMutableBufferPointer { slots in
                    func visit(_ source: UnsafeBufferPointer<Int32>, from base: Int) {
                        for (i, id) in source.enumerated() {
                            guard id >= 0 else { slots[base + i] = -1; continue }
                            guard Int(id) < row.count else { bad = (base + i, id); slots[base + i] = -1; continue }
                            var r = row[Int(id)]
                            if r < 0 {
                                r = Int32(u)
                                row[Int(id)] = r
                                ids[u] = id
                                u += 1
                            }
                            slots[base + i] = r
                        }
                    }
                    candidates.withUnsafeBufferPointer { visit($0, from: 0) }
                    if s.personalized { behaviours.withUnsafeBufferPointer { visit($0, from: n) } }
                    for j in 0..<u { row[Int(ids[j])] = -1 }
                }
            }
        }
        if let bad {
            let what = bad.slot < n ? "candidate \(bad.slot)" : "behaviour \(bad.slot - n)"
            throw EngineError.usage("model batch: \(what) names item \(bad.id), outside the item table's 0..<\(items.count)")
        }
        return u
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
            // One dictionary access for the whole row range (one per element was 0.7% of a step).
            hostKeyMask[mod]!.withUnsafeMutableBufferPointer { mask in
                for r in 0..<s.behaviourRows { mask[r] = p[n + r] }
            }
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
