import Kernels

/// How a deterministic sum over rows of a `[rows, cols]` array is split on an OpenCL device:
/// `blocks` row blocks of `rowsPerBlock` rows each become one partial per column, then a second
/// kernel adds the partials in block order. The split depends only on sizes and tuning, never
/// on timing, so the result is bit-identical from run to run.
struct ColumnReducePlan {
    let rowsPerBlock: Int
    let blocks: Int

    init(rows: Int, tuning: DeviceTuning) {
        // At least a few rows per work-item of a block, and at most maxBlocks partials so the
        // second pass stays short.
        let minRows = tuning.columnReduceRows * 4
        let perBlock = max(minRows, (rows + tuning.columnReduceMaxBlocks - 1) / tuning.columnReduceMaxBlocks)
        rowsPerBlock = perBlock
        blocks = rows == 0 ? 0 : (rows + perBlock - 1) / perBlock
    }

    /// Global size of a kernel with one [COLRED_COLS, COLRED_ROWS] group per column tile and block.
    func global(cols: Int, tuning: DeviceTuning) -> [Int] {
        [cols, blocks * tuning.columnReduceRows, 1]
    }

    static func local(_ tuning: DeviceTuning) -> [Int] { [tuning.columnReduceCols, tuning.columnReduceRows, 1] }

    /// The second pass: `out[j] = Σ_b partial[b, j]` over this plan's blocks, in block order.
    func sumPartials(_ partial: OpenCLBuffer, into out: OpenCLBuffer, cols: Int, on backend: OpenCLBackend) throws {
        let k = try backend.kernel("colred_sum_partials", family: "colred", source: KernelSources.colred)
        try k.launch([.int(Int32(blocks)), .int(Int32(cols)), .buffer(partial), .buffer(out)],
                     global: [cols, backend.tuning.columnReduceRows, 1], local: Self.local(backend.tuning))
    }
}
