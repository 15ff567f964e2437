/// CPU reference for `EmbeddingOps`, generic over the scalar so the same code runs in `Float`
/// (the CPU backend) and `Double` (gradient checks and the self-test reference).
/// Semantics and shapes: `EmbeddingOps`; callers validate sizes first.
public enum EmbeddingReference {
    /// `output[i, column + j] = table[indices[i], j]`; −1 gives zeros, any other index outside
    /// `0 ..< rows` gives NaN (never read), like the OpenCL kernel.
    public static func gather<T: BinaryFloatingPoint>(table: UnsafePointer<T>, rows: Int, dim: Int,
                                                      indices: UnsafePointer<Int32>, count: Int,
                                                      output: UnsafeMutablePointer<T>, width: Int, column: Int) {
        for i in 0..<count {
            let out = output + i * width + column
            let r = Int(indices[i])
            if r >= 0 && r < rows {
                out.update(from: table + r * dim, count: dim)
            } else {
                out.update(repeating: r == -1 ? 0 : .nan, count: dim)
            }
        }
    }

    /// `dTable[rows[u], j] += Σ_{p ∈ positions[offsets[u] ..< offsets[u+1]]} dOutput[p, column + j]`,
    /// summed from zero in the plan's (increasing) order and then added, the order the OpenCL
    /// kernel uses.
    public static func backward<T: BinaryFloatingPoint>(rows: UnsafePointer<Int32>, offsets: UnsafePointer<Int32>,
                                                        distinct: Int, positions: UnsafePointer<Int32>,
                                                        dOutput: UnsafePointer<T>, width: Int, column: Int,
                                                        dim: Int, dTable: UnsafeMutablePointer<T>) {
        guard dim > 0, distinct > 0 else { return }
        let acc = UnsafeMutablePointer<T>.allocate(capacity: dim)
        defer { acc.deallocate() }
        for u in 0..<distinct {
            acc.update(repeating: 0, count: dim)
            for q in Int(offsets[u])..<Int(offsets[u + 1]) {
                let src = dOutput + Int(positions[q]) * width + column
                for j in 0..<dim { acc[j] += src[j] }
            }
            let dst = dTable + Int(rows[u]) * dim
            for j in 0..<dim { dst[j] += acc[j] }
        }
    }
}
