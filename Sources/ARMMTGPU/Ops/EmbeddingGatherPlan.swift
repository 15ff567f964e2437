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
    /// The rows' position lists cut into chunks of at most `chunkLength`, for the OpenCL
    /// backward: chunk c covers `positions[chunkStarts[c] ..< chunkStarts[c + 1]]`, and row u's
    /// chunks are `chunkOffsets[u] ..< chunkOffsets[u + 1]`. A table of few rows named by
    /// thousands of positions (a category, an age bucket) would otherwise be summed by one
    /// work-item per feature in one long chain; the chunks are summed in parallel, then added
    /// in chunk order, so the result stays fixed without atomics.
    public let chunkStarts: [Int32]
    public let chunkOffsets: [Int32]
    /// The most positions any row has.
    public let longestRow: Int
    public static let chunkLength = 32

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
        var chunkStarts: [Int32] = [], chunkOffsets: [Int32] = []
        var longest = 0
        chunkOffsets.reserveCapacity(rows.count + 1)
        for u in 0..<rows.count {
            chunkOffsets.append(Int32(chunkStarts.count))
            longest = max(longest, Int(offsets[u + 1] - offsets[u]))
            for start in stride(from: offsets[u], to: offsets[u + 1], by: Self.chunkLength) { chunkStarts.append(start) }
        }
        chunkOffsets.append(Int32(chunkStarts.count))
        chunkStarts.append(Int32(positions.count))
        self.tableRows = tableRows
        count = indices.count
        self.rows = rows
        self.offsets = offsets
        self.positions = positions
        self.chunkStarts = chunkStarts
        self.chunkOffsets = chunkOffsets
        longestRow = longest
    }

    /// Chunks of `chunkStarts` (its last entry is the end of the last chunk).
    public var chunkCount: Int { chunkStarts.count - 1 }

    /// Whether any row is long enough for the chunked backward.
    public var hasLongRows: Bool { longestRow > Self.chunkLength }

    /// Most chunks `count` indices into `tableRows` rows can make: each row's last chunk may be
    /// short, so at most one chunk per distinct row beyond count / chunkLength.
    public static func maximumChunks(count: Int, tableRows: Int) -> Int {
        min(count, tableRows) + count / chunkLength
    }
}

/// An `EmbeddingGatherPlan` uploaded to one backend: the host plan and its int32 arrays as
/// tensors of that backend (`rows` `[U]`, `offsets` `[U + 1]`, `positions` `[P]`, and when the
/// plan `hasLongRows`, `chunkStarts` `[C + 1]` and `chunkOffsets` `[U + 1]`; nil otherwise, since
/// only the OpenCL backward of long rows reads them and each upload is a write per batch).
public struct EmbeddingDevicePlan {
    public let plan: EmbeddingGatherPlan
    public let rows: Tensor
    public let offsets: Tensor
    public let positions: Tensor
    public let chunkStarts: Tensor?
    public let chunkOffsets: Tensor?
}

extension Backend {
    /// Copies a plan's arrays to this backend (one small write each, once per batch).
    public func upload(_ plan: EmbeddingGatherPlan) throws -> EmbeddingDevicePlan {
        // An all-padding batch has no rows or positions: empty tensors, nothing to write.
        func upload(_ values: [Int32]) throws -> Tensor {
            values.isEmpty ? try makeTensor([0], dtype: .int32) : try tensor(int32: values, shape: [values.count])
        }
        let long = plan.hasLongRows
        return EmbeddingDevicePlan(plan: plan, rows: try upload(plan.rows), offsets: try upload(plan.offsets),
                                   positions: try upload(plan.positions),
                                   chunkStarts: long ? try upload(plan.chunkStarts) : nil,
                                   chunkOffsets: long ? try upload(plan.chunkOffsets) : nil)
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
        if let t = plan.chunkStarts {
            try Check.dtype(t, .int32, "embedding plan chunk starts")
            try Check.count(t, plan.plan.chunkStarts.count, "embedding plan chunk starts")
        }
        if let t = plan.chunkOffsets {
            try Check.dtype(t, .int32, "embedding plan chunk offsets")
            try Check.count(t, plan.plan.chunkOffsets.count, "embedding plan chunk offsets")
        }
        return s
    }
}
