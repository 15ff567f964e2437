/// Embedding family: gathering rows of a table by index (categorical embeddings, and the
/// offline text/image vectors of the item table), and the scatter-add that is its backward.
///
/// Shapes: `table` is `[rows, dim]` float32. `indices` is an int32 tensor of any shape with
/// `n` elements; −1 marks padding. `output`/`dOutput` have shape `indices.shape + [width]`
/// (any shape whose last dimension is `width` and whose count is `n · width`), and the
/// embedding occupies columns `column ..< column + dim` of each of its `n` rows, so several
/// embeddings and dense features can be written side by side into one input matrix without
/// a concatenation op.
public protocol EmbeddingOps {
    /// `output[i, column + j] = table[indices[i], j]` for `i < n`, `j < dim`; a padding index
    /// (−1) gives a zero row. Other columns of `output` are left untouched. An index outside
    /// `−1 ..< rows` is never dereferenced: its row is written as NaN, so the mistake shows up
    /// in the loss (`EmbeddingGatherPlan` rejects such indices on the host, where batches are
    /// assembled).
    func embeddingGather(table: Tensor, indices: Tensor, output: Tensor, column: Int) throws

    /// `dTable[r, j] += Σ_{i : indices[i] = r} dOutput[i, column + j]`, accumulated into
    /// `dTable` (`[rows, dim]`, zeroed by the caller before the first contribution).
    ///
    /// Deterministic: every `(r, j)` is owned by one work-item, which first sums its positions
    /// in increasing `i` (the plan's order) starting from zero and then adds the sum to
    /// `dTable[r, j]`; no atomics, so the same inputs give bit-identical gradients on a device.
    /// Rows that no index names are not touched.
    func embeddingBackward(plan: EmbeddingDevicePlan, dOutput: Tensor, column: Int, dTable: Tensor) throws
}

extension EmbeddingOps {
    /// Gather into a tensor holding just the embedding (`column` 0).
    public func embeddingGather(table: Tensor, indices: Tensor, output: Tensor) throws {
        try embeddingGather(table: table, indices: indices, output: output, column: 0)
    }

    public func embeddingBackward(plan: EmbeddingDevicePlan, dOutput: Tensor, dTable: Tensor) throws {
        try embeddingBackward(plan: plan, dOutput: dOutput, column: 0, dTable: dTable)
    }
}
