/// Device storage for one embedding's per-batch gather plan, allocated once for the largest
/// batch. Each batch's plan is written into it through tensor views of the plan's exact sizes
/// (views share the storage), so uploading a plan allocates no device memory.
final class EmbeddingPlanSlot {
    let tableRows: Int
    private let rows: Tensor
    private let offsets: Tensor
    private let positions: Tensor
    private let chunkStarts: Tensor
    private let chunkOffsets: Tensor
    let indices: Tensor

    /// For up to `count` indices into a table of `tableRows` rows.
    init(_ be: Backend, count: Int, tableRows: Int) throws {
        self.tableRows = tableRows
        let distinct = min(count, tableRows)
        rows = try be.makeTensor([distinct], dtype: .int32)
        offsets = try be.makeTensor([distinct + 1], dtype: .int32)
        positions = try be.makeTensor([count], dtype: .int32)
        chunkStarts = try be.makeTensor([EmbeddingGatherPlan.maximumChunks(count: count, tableRows: tableRows) + 1], dtype: .int32)
        chunkOffsets = try be.makeTensor([distinct + 1], dtype: .int32)
        indices = try be.makeTensor([count], dtype: .int32)
    }

    /// Uploads `values` as the indices and builds and uploads their plan, for a table of
    /// `tableRows` rows (at most the slot's; the slot's by default).
    func upload(_ be: Backend, indices values: [Int32], tableRows used: Int? = nil) throws -> EmbeddingDevicePlan {
        let used = used ?? tableRows
        precondition(used <= tableRows, "plan table rows \(used) beyond the slot's \(tableRows)")
        try be.writeInt32(values, to: indices)
        let plan = try EmbeddingGatherPlan(indices: values, tableRows: used)
        func view(_ storage: Tensor, _ v: [Int32]) throws -> Tensor {
            let t = storage.view([v.count])
            if !v.isEmpty { try be.writeInt32(v, to: t) }
            return t
        }
        let long = plan.hasLongRows
        return EmbeddingDevicePlan(plan: plan, rows: try view(rows, plan.rows), offsets: try view(offsets, plan.offsets),
                                   positions: try view(positions, plan.positions),
                                   chunkStarts: long ? try view(chunkStarts, plan.chunkStarts) : nil,
                                   chunkOffsets: long ? try view(chunkOffsets, plan.chunkOffsets) : nil)
    }
}
