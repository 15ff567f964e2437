import ARMMTGPU
import XCTest

final class EmbeddingTests: XCTestCase {
    /// The self-test cases plus a covering sweep over the awkward sizes, as dim and as n.
    static func allCases() -> [EquivalenceCase] {
        let s = MiscTestSupport.sizes
        var cases = EmbeddingChecks.cases()
        for (i, dim) in s.enumerated() {
            let n = s[(i + 5) % s.count], rows = s[(i + 9) % s.count]
            cases.append(EmbeddingChecks.gather(rows: rows, dim: dim, count: n))
            cases.append(EmbeddingChecks.gather(rows: rows, dim: dim, count: n, width: dim + 3, column: 2))
            cases.append(EmbeddingChecks.backward(rows: rows, dim: dim, count: n))
            cases.append(EmbeddingChecks.backward(rows: rows, dim: dim, count: n, width: dim + 3, column: 3))
        }
        return cases
    }

    func testCPUMatchesDoubleReference() {
        XCTAssertGreaterThan(MiscTestSupport.assertPass(Self.allCases(), on: CPUBackend()), 60)
    }

    func testOpenCLMatchesDoubleReference() throws {
        XCTAssertGreaterThan(MiscTestSupport.assertPass(Self.allCases(), on: try MiscTestSupport.openCL()), 60)
    }

    func testPlanGroupsPositionsByRowInOrder() throws {
        let plan = try EmbeddingGatherPlan(indices: [2, -1, 0, 2, 2, 0, 3], tableRows: 5)
        XCTAssertEqual(plan.rows, [0, 2, 3])
        XCTAssertEqual(plan.offsets, [0, 2, 5, 6])
        XCTAssertEqual(plan.positions, [2, 5, 0, 3, 4, 6])
        XCTAssertEqual(plan.count, 7)
        let empty = try EmbeddingGatherPlan(indices: [-1, -1], tableRows: 3)
        XCTAssertEqual(empty.rows, [])
        XCTAssertEqual(empty.offsets, [0])
        XCTAssertEqual(empty.positions, [])
    }

    /// Rows of 70, 32, 33 and 1 positions: chunks of at most 32 that start where a row starts,
    /// the long row in three, the row of exactly 32 in one.
    func testPlanCutsLongRowsIntoChunks() throws {
        var idx: [Int32] = []
        for (row, times) in [(0, 70), (1, 32), (2, 33), (3, 1)] { idx += [Int32](repeating: Int32(row), count: times) }
        idx += [-1, -1]
        let plan = try EmbeddingGatherPlan(indices: idx, tableRows: 4)
        XCTAssertEqual(EmbeddingGatherPlan.chunkLength, 32)
        XCTAssertEqual(plan.offsets, [0, 70, 102, 135, 136])
        XCTAssertEqual(plan.chunkStarts, [0, 32, 64, 70, 102, 134, 135, 136])
        XCTAssertEqual(plan.chunkOffsets, [0, 3, 4, 6, 7])
        XCTAssertEqual(plan.chunkCount, 7)
        XCTAssertEqual(plan.longestRow, 70)
        XCTAssertTrue(plan.hasLongRows)
        XCTAssertLessThanOrEqual(plan.chunkCount, EmbeddingGatherPlan.maximumChunks(count: idx.count, tableRows: 4))

        let short = try EmbeddingGatherPlan(indices: [Int32](repeating: 1, count: 32), tableRows: 2)
        XCTAssertFalse(short.hasLongRows)
        let empty = try EmbeddingGatherPlan(indices: [-1], tableRows: 2)
        XCTAssertEqual(empty.chunkStarts, [0])
        XCTAssertEqual(empty.chunkOffsets, [0])
        XCTAssertEqual(empty.chunkCount, 0)
        XCTAssertFalse(empty.hasLongRows)

        // The bound the model's plan slots allocate by holds for any mix of rows.
        var rng = SeededRandom(seed: 3)
        for _ in 0..<200 {
            let rows = 1 + rng.index(50), count = rng.index(3000)
            let p = try EmbeddingGatherPlan(indices: EmbeddingChecks.indices(count: count, rows: rows, padding: 0.1, rng: &rng),
                                            tableRows: rows)
            XCTAssertLessThanOrEqual(p.chunkCount, EmbeddingGatherPlan.maximumChunks(count: count, tableRows: rows))
        }
    }

    func testPlanRejectsIndicesOutsideTheTable() {
        MiscTestSupport.assertUsageError("element 1 is 5") { _ = try EmbeddingGatherPlan(indices: [0, 5], tableRows: 5) }
        MiscTestSupport.assertUsageError("element 0 is -2") { _ = try EmbeddingGatherPlan(indices: [-2], tableRows: 5) }
    }

    /// The backward is the adjoint of the gather: for L = Σ c ⊙ gather(table), dL/dtable from
    /// the Double reference backward equals central differences of L, entry by entry
    /// (padding indices, repeated rows, unused rows and an output column offset included).
    func testBackwardMatchesFiniteDifferences() throws {
        let rows = 4, dim = 3, width = 6, column = 2
        let idx: [Int32] = [1, -1, 3, 1, 1, 0, -1, 3]
        let n = idx.count
        var rng = SeededRandom(seed: 42)
        let table = (0..<rows * dim).map { _ in rng.uniform(-1, 1) }
        let c = (0..<n * width).map { _ in rng.uniform(-1, 1) }

        func loss(_ t: [Double]) -> Double {
            var out = [Double](repeating: 0, count: n * width)
            t.withUnsafeBufferPointer { pt in idx.withUnsafeBufferPointer { pi in out.withUnsafeMutableBufferPointer { po in
                EmbeddingReference.gather(table: pt.baseAddress!, rows: rows, dim: dim, indices: pi.baseAddress!, count: n,
                                          output: po.baseAddress!, width: width, column: column)
            } } }
            return zip(out, c).reduce(0) { $0 + $1.0 * $1.1 }
        }

        let plan = try EmbeddingGatherPlan(indices: idx, tableRows: rows)
        var grad = [Double](repeating: 0, count: rows * dim)
        plan.rows.withUnsafeBufferPointer { pr in plan.offsets.withUnsafeBufferPointer { po in
            plan.positions.withUnsafeBufferPointer { pp in c.withUnsafeBufferPointer { pc in grad.withUnsafeMutableBufferPointer { pg in
                EmbeddingReference.backward(rows: pr.baseAddress!, offsets: po.baseAddress!, distinct: plan.rows.count,
                                            positions: pp.baseAddress!, dOutput: pc.baseAddress!, width: width,
                                            column: column, dim: dim, dTable: pg.baseAddress!)
            } } }
        } }
        let h = 1e-6
        for e in 0..<rows * dim {
            var plus = table, minus = table
            plus[e] += h
            minus[e] -= h
            let fd = (loss(plus) - loss(minus)) / (2 * h)
            XCTAssertEqual(grad[e], fd, accuracy: 1e-6 * max(1, abs(fd)), "dTable[\(e)]")
        }
        // Row 2 is never named: its gradient stays exactly zero.
        XCTAssertEqual(Array(grad[2 * dim ..< 3 * dim]), [0, 0, 0])
    }

    /// Many positions per row (a popular item, or a padding-like id) summed twice on the same
    /// device give the same bits.
    func testOpenCLBackwardIsDeterministic() throws {
        let backend = try MiscTestSupport.openCL()
        let rows = 3, dim = 65, n = 5000
        var rng = SeededRandom(seed: 7)
        let idx = EmbeddingChecks.indices(count: n, rows: rows, padding: 0.1, rng: &rng)
        let dOut = rng.floats(n * dim, -10, 10)
        let plan = try backend.upload(try EmbeddingGatherPlan(indices: idx, tableRows: rows))
        let td = try backend.tensor(dOut, shape: [n, dim])
        var results: [[UInt32]] = []
        for _ in 0..<2 {
            let tt = try backend.makeTensor([rows, dim])
            try backend.fill(tt, with: 0)
            try backend.embeddingBackward(plan: plan, dOutput: td, dTable: tt)
            results.append(try backend.read(tt).map(\.bitPattern))
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssert(results[0].contains { $0 != 0 })
    }

    /// An index outside −1..<rows is not read: both backends write a NaN row (a −1 a zero row).
    func testBadIndexGivesNaNRowOnBothBackends() throws {
        var backends: [Backend] = [CPUBackend()]
        if !OpenCLInventory.shared.devices.isEmpty { backends.append(try MiscTestSupport.openCL()) }
        for backend in backends {
            let table = try backend.tensor([1, 2, 3, 4], shape: [2, 2])
            let idx = try backend.tensor(int32: [1, 7, -1, -5], shape: [4])
            let out = try backend.makeTensor([4, 2])
            try backend.embeddingGather(table: table, indices: idx, output: out)
            let got = try backend.read(out)
            XCTAssertEqual(Array(got[0..<2]), [3, 4], backend.name)
            XCTAssert(got[2].isNaN && got[3].isNaN && got[6].isNaN && got[7].isNaN, "\(backend.name): \(got)")
            XCTAssertEqual(Array(got[4..<6]), [0, 0], backend.name)
        }
    }

    func testValidationErrorsNameTheTensor() throws {
        let b = CPUBackend()
        let table = try b.makeTensor([5, 3]), idx = try b.tensor(int32: [0, 1], shape: [2])
        MiscTestSupport.assertUsageError("embedding gather output") {
            try b.embeddingGather(table: table, indices: idx, output: try b.makeTensor([3, 3]))
        }
        MiscTestSupport.assertUsageError("do not fit its width 4") {
            try b.embeddingGather(table: table, indices: idx, output: try b.makeTensor([2, 4]), column: 2)
        }
        MiscTestSupport.assertUsageError("embedding gather table: expected shape [rows, dim]") {
            try b.embeddingGather(table: try b.makeTensor([15]), indices: idx, output: try b.makeTensor([2, 3]))
        }
        MiscTestSupport.assertUsageError("embedding gather indices: expected a int32 tensor") {
            try b.embeddingGather(table: table, indices: try b.makeTensor([2]), output: try b.makeTensor([2, 3]))
        }
        let plan = try b.upload(try EmbeddingGatherPlan(indices: [0, 1], tableRows: 4))
        MiscTestSupport.assertUsageError("plan was built for 4 table rows") {
            try b.embeddingBackward(plan: plan, dOutput: try b.makeTensor([2, 3]), dTable: table)
        }
        MiscTestSupport.assertUsageError("embedding backward dOutput") {
            try b.embeddingBackward(plan: plan, dOutput: try b.makeTensor([3, 3]), dTable: try b.makeTensor([4, 3]))
        }
        if !OpenCLInventory.shared.devices.isEmpty {
            let o = try MiscTestSupport.openCL()
            MiscTestSupport.assertUsageError("lives on another backend") {
                try o.embeddingGather(table: table, indices: idx, output: try o.makeTensor([2, 3]))
            }
        }
    }
}
