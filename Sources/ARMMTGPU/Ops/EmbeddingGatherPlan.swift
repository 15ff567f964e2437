/// The inverse of one batch's index array, in CSR form: for every distinct table row that
/// the batch uses, the positions that name it, in increasing order. Built once per batch on
/// the host (batches are assembled there anyway) and uploaded with `Backend.upload(_:)`; the
/// embedding backward then gives each `(row, feature)` to one work-item that sums its
/// positions in this fixed order, which makes the gradient deterministic without atomics.
public struct EmbeddingGatherPlan: Equatable, Sendable {
    /// Rows of the table the indices address.
    public let tableRows: Int
    /// Number of indices `n` (padding included).
    public let count: Int
    /// The distinct rows used, increasing.
    public let rows: [Int32]
    /// `rows.count + 1` offsets into `positions`: row `rows[u]` is named at
    /// `positions[offsets[u] ..< offsets[u + 1]]`.
    public let offsets: [Int32]
    /// Positions `i` (into the flattened index array) of every non-padding index, grouped by row,
    /// increasing within a row.
    public let positions: [Int32]

    /// Throws `EngineError.usage` naming the first index outside `−1 ..< tableRows`.
    public init(indices: [Int32], tableRows: Int) throws {
        guard tableRows >= 0, tableRows <= Int(Int32.max) else {
            throw EngineError.usage("embedding plan: table rows \(tableRows) outside 0...\(Int32.max)")
        }
        guard indices.count <= Int(Int32.max) else {
            throw EngineError.usage("embedding plan: \(indices.count) indices; kernels index with 32 bits")
        }
        // Sorting (row, position) keys groups positions by row and keeps each group increasing;
        // a counting sort would need a `tableRows`-sized array per batch (item tables are large).
        var keys: [UInt64] = []
        keys.reserveCapacity(indices.count)
        for (i, r) in indices.enumerated() {
            if r == -1 { continue }
            guard r >= 0, Int(r) < tableRows else {
                throw EngineError.usage("embedding indices: element \(i) is \(r), outside -1..<\(tableRows) (table rows)")
            }
            keys.append(UInt64(UInt32(r)) << 32 | UInt64(UInt32(i)))
        }
        keys.sort()
        var rows: [Int32] = [], offsets: [Int32] = [], positions: [Int32] = []
        positions.reserveCapacity(keys.count)
        for key in keys {
            let r = Int32(truncatingIfNeeded: key >> 32)
            if rows.last != r {
                rows.append(r)
                offsets.append(Int32(positions.count))
            }
            positions.append(Int32(truncatingIfNeeded: key & 0xFFFF_FFFF))
        }
        offsets.append(Int32(positions.count))
        self.tableRows = tableRows
        count = indices.count
        self.rows = rows
        self.offsets = offsets
        self.positions = positions
    }
}

/// An `EmbeddingGatherPlan` uploaded to one backend: the host plan and its three int32 arrays
/// as tensors of that backend (`rows` `[U]`, `offsets` `[U + 1]`, `positions` `[P]`).
public struct EmbeddingDevicePlan {
    public let plan: EmbeddingGatherPlan
    public let rows: Tensor
    public let offsets: Tensor
    public let positions: Tensor
}

extension Backend {
    /// Copies a plan's arrays to this backend (one small write each, once per batch).
    public func upload(_ plan: EmbeddingGatherPlan) throws -> EmbeddingDevicePlan {
        // An all-padding batch has no rows or positions: empty tensors, nothing to write.
        func upload(_ values: [Int32]) throws -> Tensor {
            values.isEmpty ? try makeTensor([0], dtype: .int32) : try tensor(int32: values, shape: [values.count])
        }
        return EmbeddingDevicePlan(plan: plan, rows: try upload(plan.rows), offsets: try upload(plan.offsets),
                                   positions: try upload(plan.positions))
    }
}

/// Shape validation shared by both backends' embedding ops.
enum EmbeddingValidation {
    struct Sizes {
        var rows: Int, dim: Int, count: Int, width: Int
    }

    /// Checks `table` `[rows, dim]`, `n` indices and a row-major `[n, width]` partner tensor
    /// holding the embedding in columns `column ..< column + dim`.
    static func sizes(op: String, table: Tensor, tableRole: String, count n: Int, other: Tensor, otherRole: String,
                      column: Int) throws -> Sizes {
        try Check.dtype(table, .float32, "\(op) \(tableRole)")
        try Check.dtype(other, .float32, "\(op) \(otherRole)")
        guard table.shape.count == 2 else {
            throw EngineError.usage("\(op) \(tableRole): expected shape [rows, dim], got \(table.shape.shapeDescription)")
        }
        let rows = table.shape[0], dim = table.shape[1]
        guard let width = other.shape.last, other.count == n * width else {
            throw EngineError.usage("\(op) \(otherRole): expected shape [\(n), width] (\(n) indices, any leading dimensions), got \(other.shape.shapeDescription)")
        }
        guard column >= 0, column + dim <= width else {
            throw EngineError.usage("\(op) \(otherRole): columns \(column)..<\(column + dim) of an embedding of dim \(dim) do not fit its width \(width) (shape \(other.shape.shapeDescription))")
        }
        guard table.count < Int(Int32.max), other.count < Int(Int32.max) else {
            throw EngineError.usage("\(op): tensors beyond 2^31 elements")
        }
        return Sizes(rows: rows, dim: dim, count: n, width: width)
    }

    static func gather(table: Tensor, indices: Tensor, output: Tensor, column: Int) throws -> Sizes {
        try Check.dtype(indices, .int32, "embedding gather indices")
        return try sizes(op: "embedding gather", table: table, tableRole: "table", count: indices.count,
                         other: output, otherRole: "output", column: column)
    }

    static func backward(plan: EmbeddingDevicePlan, dOutput: Tensor, column: Int, dTable: Tensor) throws -> Sizes {
        let s = try sizes(op: "embedding backward", table: dTable, tableRole: "dTable", count: plan.plan.count,
                          other: dOutput, otherRole: "dOutput", column: column)
        guard s.rows == plan.plan.tableRows else {
            throw EngineError.usage("embedding backward dTable: plan was built for \(plan.plan.tableRows) table rows, dTable has shape \(dTable.shape.shapeDescription)")
        }
        try Check.dtype(plan.rows, .int32, "embedding plan rows")
        try Check.dtype(plan.offsets, .int32, "embedding plan offsets")
        try Check.dtype(plan.positions, .int32, "embedding plan positions")
        try Check.count(plan.rows, plan.plan.rows.count, "embedding plan rows")
        try Check.count(plan.offsets, plan.plan.rows.count + 1, "embedding plan offsets")
        try Check.count(plan.positions, plan.plan.positions.count, "embedding plan positions")
        return s
    }
}
