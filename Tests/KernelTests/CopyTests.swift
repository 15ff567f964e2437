import ARMMTGPU
import XCTest

final class CopyTests: XCTestCase {
    func awkwardCases() -> [EquivalenceCase] {
        var cases = CopyChecks.cases()
        var seed: UInt64 = 100
        for rows in [1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129] {
            for cols in [1, 7, 64, 129] {
                seed += 1
                let rep = [1, 2, 3, 32][Int(seed % 4)]
                cases.append(CopyChecks.copyCase(WindowCopy(rows: rows, cols: cols, srcStride: cols + 1, dstStride: cols * 2,
                                                            srcOffset: 1, dstOffset: cols, repeatRows: rep,
                                                            accumulate: seed % 2 == 0, scale: 1.5), seed: seed))
                cases.append(CopyChecks.sumCase(GroupSum(groups: rows, groupSize: rep, cols: cols, srcStride: cols + 3,
                                                         dstStride: cols + 1, dstOffset: 2, accumulate: seed % 2 == 1), seed: seed))
            }
        }
        return cases
    }

    func testCPUMatchesReference() { assertCasesPass(awkwardCases(), on: TestBackends.cpu) }

    func testOpenCLMatchesReference() throws { assertCasesPass(awkwardCases(), on: try TestBackends.requireOpenCL()) }

    /// Broadcast then group-sum is the adjoint pair the model's backward relies on:
    /// ⟨copy(x), y⟩ = ⟨x, sum(y)⟩.
    func testSumGroupsIsAdjointOfBroadcast() throws {
        let backend = TestBackends.cpu
        var rng = SeededRandom(seed: 9)
        let x = rng.floats(4 * 6), y = rng.floats(4 * 3 * 6)
        let tx = try backend.tensor(x, shape: [4, 6]), ty = try backend.tensor(y, shape: [12, 6])
        let bx = try backend.makeTensor([12, 6]), sy = try backend.makeTensor([4, 6])
        try backend.copyWindow(WindowCopy(rows: 12, cols: 6, repeatRows: 3), from: tx, to: bx)
        try backend.sumGroups(GroupSum(groups: 4, groupSize: 3, cols: 6), from: ty, to: sy)
        let lhs = zip(try backend.read(bx), y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(x, try backend.read(sy)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-4)
    }

    func testWindowOutsideTensorIsRejected() throws {
        for backend in [TestBackends.cpu as Backend] + (TestBackends.openCL.map { [$0] } ?? []) {
            let src = try backend.makeTensor([10]), dst = try backend.makeTensor([10])
            XCTAssertThrowsError(try backend.copyWindow(WindowCopy(rows: 3, cols: 4), from: src, to: dst)) { error in
                XCTAssertTrue("\(error)".contains("source needs 12 elements, tensor has 10"), "\(error)")
            }
            XCTAssertThrowsError(try backend.sumGroups(GroupSum(groups: 2, groupSize: 2, cols: 3), from: src, to: dst)) { error in
                XCTAssertTrue("\(error)".contains("source needs 12 elements"), "\(error)")
            }
        }
    }
}
