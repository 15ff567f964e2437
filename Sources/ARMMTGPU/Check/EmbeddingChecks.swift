/// Equivalence cases for `EmbeddingOps` against the Double reference.
public enum EmbeddingChecks {
    /// Seeded indices into `rows` rows with about `padding` of them −1; with `rows` small
    /// relative to `count`, rows repeat many times (what the backward's plan must handle).
    public static func indices(count: Int, rows: Int, padding: Double, rng: inout SeededRandom) -> [Int32] {
        (0..<count).map { _ in rng.unit() < padding || rows == 0 ? -1 : Int32(rng.index(rows)) }
    }

    /// Gather `count` rows of a `[rows, dim]` table into columns `column ..< column + dim` of a
    /// `[count, width]` output. The other columns start as NaN and must stay NaN (untouched).
    public static func gather(rows: Int, dim: Int, count: Int, width: Int? = nil, column: Int = 0,
                              padding: Double = 0.2, quick: Bool = false) -> EquivalenceCase {
        let w = width ?? dim
        return EquivalenceCase(op: "gather",
                               shape: "rows=\(rows) dim=\(dim) n=\(count)" + (w != dim ? " width=\(w) column=\(column)" : ""),
                               quick: quick) { backend in
            var rng = SeededRandom(seed: UInt64(rows * 7919 + dim * 104_729 + count * 31 + column))
            let table = rng.floats(rows * dim)
            let idx = indices(count: count, rows: rows, padding: padding, rng: &rng)
            let tt = try backend.tensor(table, shape: [rows, dim])
            let ti = try backend.tensor(int32: idx, shape: [count])
            let to = try backend.makeTensor([count, w])
            try backend.fill(to, with: .nan)
            try backend.embeddingGather(table: tt, indices: ti, output: to, column: column)
            let got = try backend.read(to)

            var expected = [Double](repeating: .nan, count: count * w)
            let dt = table.map(Double.init)
            dt.withUnsafeBufferPointer { pt in idx.withUnsafeBufferPointer { pi in expected.withUnsafeMutableBufferPointer { po in
                EmbeddingReference.gather(table: pt.baseAddress!, rows: rows, dim: dim, indices: pi.baseAddress!, count: count,
                                          output: po.baseAddress!, width: w, column: column)
            } } }
            return [Comparison.compare("output", actual: got, expected: expected, tolerance: Tolerance(reductionLength: 1))]
        }
    }

    /// Backward of `count` indices into `rows` rows (many repeats when rows ≪ count), added
    /// into a dTable that starts random (the op accumulates).
    public static func backward(rows: Int, dim: Int, count: Int, width: Int? = nil, column: Int = 0,
                                padding: Double = 0.2, quick: Bool = false) -> EquivalenceCase {
        let w = width ?? dim
        return EquivalenceCase(op: "scatter_add",
                               shape: "rows=\(rows) dim=\(dim) n=\(count)" + (w != dim ? " width=\(w) column=\(column)" : ""),
                               quick: quick) { backend in
            var rng = SeededRandom(seed: UInt64(rows * 31 + dim * 7 + count * 104_729 + column + 5))
            let idx = indices(count: count, rows: rows, padding: padding, rng: &rng)
            let dOut = rng.floats(count * w)
            let dTable0 = rng.floats(rows * dim)
            let plan = try EmbeddingGatherPlan(indices: idx, tableRows: rows)
            let device = try backend.upload(plan)
            let td = try backend.tensor(dOut, shape: [count, w])
            let tt = try backend.tensor(dTable0, shape: [rows, dim])
            try backend.embeddingBackward(plan: device, dOutput: td, column: column, dTable: tt)
            let got = try backend.read(tt)

            var expected = dTable0.map(Double.init)
            let dd = dOut.map(Double.init)
            plan.rows.withUnsafeBufferPointer { pr in plan.offsets.withUnsafeBufferPointer { po in
                plan.positions.withUnsafeBufferPointer { pp in dd.withUnsafeBufferPointer { pd in
                    expected.withUnsafeMutableBufferPointer { pt in
                        EmbeddingReference.backward(rows: pr.baseAddress!, offsets: po.baseAddress!, distinct: plan.rows.count,
                                                    positions: pp.baseAddress!, dOutput: pd.baseAddress!, width: w,
                                                    column: column, dim: dim, dTable: pt.baseAddress!)
                    }
                } }
            } }
            return [Comparison.compare("dTable", actual: got, expected: expected,
                                       tolerance: Tolerance(reductionLength: plan.longestRow + 1))]
        }
    }

    public static func cases() -> [EquivalenceCase] {
        [
            gather(rows: 5, dim: 3, count: 7, quick: true),
            gather(rows: 4, dim: 2, count: 3, width: 9, column: 5, quick: true),
            gather(rows: 1, dim: 1, count: 1, padding: 0),
            gather(rows: 17, dim: 16, count: 33),
            gather(rows: 129, dim: 65, count: 63, width: 100, column: 31),
            gather(rows: 1000, dim: 384, count: 129),
            gather(rows: 3, dim: 7, count: 15, padding: 1),
            backward(rows: 5, dim: 3, count: 7, quick: true),
            backward(rows: 3, dim: 2, count: 16, width: 9, column: 5, quick: true),
            backward(rows: 1, dim: 1, count: 1, padding: 0),
            backward(rows: 2, dim: 17, count: 127),
            backward(rows: 31, dim: 64, count: 129, width: 100, column: 33),
            backward(rows: 65, dim: 15, count: 1000),
            backward(rows: 7, dim: 33, count: 63, padding: 1),
            // Rows named hundreds of times (a category over a whole batch): the OpenCL backward
            // sums them in chunks of EmbeddingGatherPlan.chunkLength, then adds the chunks.
            backward(rows: 2, dim: 5, count: 100, quick: true),
            backward(rows: 3, dim: 16, count: 2000, width: 40, column: 7),
            backward(rows: 1, dim: 65, count: 1031, padding: 0.01),
        ]
    }
}
