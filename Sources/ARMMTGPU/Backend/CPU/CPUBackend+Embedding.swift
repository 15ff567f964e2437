extension CPUBackend: EmbeddingOps {
    public func embeddingGather(table: Tensor, indices: Tensor, output: Tensor, column: Int) throws {
        let s = try EmbeddingValidation.gather(table: table, indices: indices, output: output, column: column)
        let pt = try host(table, "embedding gather table"), pi = try hostInt32(indices, "embedding gather indices")
        let po = try host(output, "embedding gather output")
        EmbeddingReference.gather(table: pt, rows: s.rows, dim: s.dim, indices: pi, count: s.count,
                                  output: po, width: s.width, column: column)
    }

    public func embeddingBackward(plan: EmbeddingDevicePlan, dOutput: Tensor, column: Int, dTable: Tensor) throws {
        let s = try EmbeddingValidation.backward(plan: plan, dOutput: dOutput, column: column, dTable: dTable)
        let rows = try hostInt32(plan.rows, "embedding plan rows"), offsets = try hostInt32(plan.offsets, "embedding plan offsets")
        let positions = try hostInt32(plan.positions, "embedding plan positions")
        let pd = try host(dOutput, "embedding backward dOutput"), pt = try host(dTable, "embedding backward dTable")
        EmbeddingReference.backward(rows: rows, offsets: offsets, distinct: plan.plan.rows.count, positions: positions,
                                    dOutput: pd, width: s.width, column: column, dim: s.dim, dTable: pt)
    }
}
