import Kernels

extension OpenCLBackend: EmbeddingOps {
    public func embeddingGather(table: Tensor, indices: Tensor, output: Tensor, column: Int) throws {
        let s = try EmbeddingValidation.gather(table: table, indices: indices, output: output, column: column)
        let bt = try buffer(table, "embedding gather table"), bi = try buffer(indices, "embedding gather indices", dtype: .int32)
        let bo = try buffer(output, "embedding gather output")
        let k = try kernel("embedding_gather", family: "embedding", source: KernelSources.embedding)
        try k.launch([
            .int(Int32(s.count)), .int(Int32(s.dim)), .int(Int32(s.rows)),
            .buffer(bt), .buffer(bi), .buffer(bo), .int(Int32(s.width)), .int(Int32(column)),
        ], global: [s.count * s.dim], local: [tuning.embeddingWorkGroup])
    }

    public func embeddingBackward(plan: EmbeddingDevicePlan, dOutput: Tensor, column: Int, dTable: Tensor) throws {
        let s = try EmbeddingValidation.backward(plan: plan, dOutput: dOutput, column: column, dTable: dTable)
        let br = try buffer(plan.rows, "embedding plan rows", dtype: .int32)
        let bo = try buffer(plan.offsets, "embedding plan offsets", dtype: .int32)
        let bp = try buffer(plan.positions, "embedding plan positions", dtype: .int32)
        let bd = try buffer(dOutput, "embedding backward dOutput"), bt = try buffer(dTable, "embedding backward dTable")
        let distinct = plan.plan.rows.count
        // Uploads carry the chunk arrays exactly when the plan has long rows.
        if let starts = plan.chunkStarts, let chunkOffsets = plan.chunkOffsets {
            let bs = try buffer(starts, "embedding plan chunk starts", dtype: .int32)
            let bco = try buffer(chunkOffsets, "embedding plan chunk offsets", dtype: .int32)
            let chunks = plan.plan.chunkCount
            let partial = try scratch("embedding chunk partials", byteCount: chunks * s.dim * 4)
            let kc = try kernel("embedding_backward_chunks", family: "embedding", source: KernelSources.embedding)
            try kc.launch([
                .int(Int32(chunks)), .int(Int32(s.dim)), .buffer(bs), .buffer(bp),
                .buffer(bd), .int(Int32(s.width)), .int(Int32(column)), .buffer(partial),
            ], global: [chunks * s.dim], local: [tuning.embeddingWorkGroup])
            let kr = try kernel("embedding_backward_rows", family: "embedding", source: KernelSources.embedding)
            try kr.launch([.int(Int32(distinct)), .int(Int32(s.dim)), .buffer(br), .buffer(bco), .buffer(partial), .buffer(bt)],
                          global: [distinct * s.dim], local: [tuning.embeddingWorkGroup])
            return
        }
        let k = try kernel("embedding_backward", family: "embedding", source: KernelSources.embedding)
        try k.launch([
            .int(Int32(distinct)), .int(Int32(s.dim)), .buffer(br), .buffer(bo), .buffer(bp),
            .buffer(bd), .int(Int32(s.width)), .int(Int32(column)), .buffer(bt),
        ], global: [distinct * s.dim], local: [tuning.embeddingWorkGroup])
    }
}
