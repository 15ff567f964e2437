import ARMMTGPU
import XCTest

final class GemmTests: XCTestCase {
    /// Every (m, n, k) over the awkward sizes, each with one transpose combination in turn,
    /// plus all four combinations at a spread of shapes: 1,000 + 40 GEMMs against the Double reference.
    func awkwardCases() -> [EquivalenceCase] {
        let sizes = GemmChecks.awkwardSizes
        let transposes = [(false, false), (false, true), (true, false), (true, true)]
        var cases: [EquivalenceCase] = []
        var i = 0
        for m in sizes {
            for n in sizes {
                for k in sizes {
                    let (ta, tb) = transposes[i % 4]
                    cases.append(GemmChecks.make(m: m, n: n, k: k, transA: ta, transB: tb,
                                                 alpha: 1.25, beta: i % 3 == 0 ? 0 : -0.75, seed: UInt64(i)))
                    i += 1
                }
            }
        }
        for (ta, tb) in transposes {
            for s in sizes {
                cases.append(GemmChecks.make(m: s, n: 129 - s + 1, k: s + 2, transA: ta, transB: tb,
                                             alpha: -0.5, beta: 1.5, batch: 2, padded: true, bias: true))
            }
        }
        return cases
    }

    func testOpenCLMatchesReferenceOnAwkwardSizes() throws {
        let backend = try TestBackends.requireOpenCL()
        assertCasesPass(awkwardCases(), on: backend)
    }

    func testCPUBackendMatchesReference() {
        assertCasesPass(awkwardCases(), on: TestBackends.cpu)
    }

    /// The CPU backend's own kernel on an AVX-512 host (α = 1, β = 0 or 1, every transpose, B
    /// transposed into scratch when it is a [n, k] weight), across the ways `SplitGemm` cuts a
    /// product: row pieces (m ≥ 2048), depth pieces summed in order (k ≥ 4096), and one call with
    /// a reduction longer than the kernel's 256-long block. Run under both vector units, so the
    /// OpenBLAS pieces are checked at the same shapes.
    func testCPUBackendPiecesMatchReferenceUnderBothUnits() {
        var cases: [EquivalenceCase] = []
        var seed: UInt64 = 40
        for (m, n, k) in [(2049, 17, 33), (31, 65, 4097), (65, 33, 300), (1, 65, 5000), (129, 7, 1), (70, 129, 40)] {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                for beta: Float in [0, 1] {
                    seed += 1
                    cases.append(GemmChecks.make(m: m, n: n, k: k, transA: ta, transB: tb, alpha: 1, beta: beta,
                                                 padded: true, bias: ta != tb, seed: seed))
                }
            }
        }
        for unit in CPUVectorUnit.hostHasAVX512 ? [CPUVectorUnit.avx512, .avx2] : [.avx2] {
            CPUVectorUnit.with(unit) { assertCasesPass(cases, on: CPUBackend()) }
        }
    }

    /// A weight gradient cut into depth pieces (k ≥ 4096), the pieces run on whichever core is
    /// free and summed in piece order: the bits of the serial run, with β = 0 and β = 1, under
    /// both vector units.
    func testCPUDepthSplitSumsMatchSerial() throws {
        var rng = SeededRandom(seed: 44)
        let m = 64, n = 389, k = 8300
        let a = rng.floats(k * m, -1, 1), b = rng.floats(k * n, -1, 1), c0 = rng.floats(m * n, -1, 1)
        for beta: Float in [0, 1] {
            let p = GemmParameters(m: m, n: n, k: k, transA: true, transB: false, beta: beta)
            func run(_ be: CPUBackend) throws -> [UInt32] {
                let ta = try be.tensor(a, shape: [k, m]), tb = try be.tensor(b, shape: [k, n]), tc = try be.tensor(c0, shape: [m, n])
                try be.gemm(p, a: ta, b: tb, c: tc, bias: nil)
                return try be.read(tc).map(\.bitPattern)
            }
            for unit in CPUVectorUnit.hostHasAVX512 ? [CPUVectorUnit.avx512, .avx2] : [.avx2] {
                try CPUVectorUnit.with(unit) {
                    XCTAssertEqual(try run(CPUBackend()), try run(CPUBackend(parallel: false)), "β = \(beta), \(unit)")
                }
            }
        }
    }

    func testSelfTestCasesPassOnOpenCL() throws {
        assertCasesPass(GemmChecks.cases(), on: try TestBackends.requireOpenCL())
    }

    /// The check itself must be able to fail: a GEMM with the wrong α is caught.
    func testComparisonCatchesWrongResult() {
        let p = GemmParameters(m: 17, n: 9, k: 33)
        var rng = SeededRandom(seed: 3)
        let a = rng.floats(17 * 33), b = rng.floats(33 * 9)
        var exact = [Double](repeating: 0, count: 17 * 9)
        var wrong = [Float](repeating: 0, count: 17 * 9)
        let da = a.map(Double.init), db = b.map(Double.init)
        GemmReference.run(p, a: da, b: db, c: &exact, bias: nil)
        var q = p
        q.alpha = 1.001
        GemmReference.run(q, a: a, b: b, c: &wrong, bias: nil)
        XCTAssertFalse(Comparison.compare("C", actual: wrong, expected: exact, tolerance: Tolerance(reductionLength: 33)).passed)
    }

    /// Unwritten output elements stay NaN and fail the comparison.
    func testPoisonedOutputIsDetected() {
        let got: [Float] = [1, .nan, 3]
        XCTAssertFalse(Comparison.compare("C", actual: got, expected: [1.0, 2.0, 3.0], tolerance: Tolerance(reductionLength: 1)).passed)
    }

    func testOutOfBoundsOperandIsAUsageError() throws {
        for backend in [TestBackends.cpu as Backend] + (TestBackends.openCL.map { [$0] } ?? []) {
            let a = try backend.makeTensor([4, 5]), b = try backend.makeTensor([5, 6]), c = try backend.makeTensor([4, 5])
            XCTAssertThrowsError(try backend.gemm(GemmParameters(m: 4, n: 6, k: 5), a: a, b: b, c: c, bias: nil)) { error in
                let e = error as? EngineError
                XCTAssertEqual(e?.kind, .usage)
                XCTAssertTrue(e?.message.contains("C needs 24 elements, tensor has 20") ?? false, "\(error)")
            }
        }
    }

    func testTensorFromAnotherBackendIsRejected() throws {
        let ocl = try TestBackends.requireOpenCL()
        let a = try TestBackends.cpu.makeTensor([2, 2])
        let b = try ocl.makeTensor([2, 2]), c = try ocl.makeTensor([2, 2])
        XCTAssertThrowsError(try ocl.gemm(GemmParameters(m: 2, n: 2, k: 2), a: a, b: b, c: c, bias: nil)) { error in
            XCTAssertTrue("\(error)".contains("lives on another backend"), "\(error)")
        }
    }
}

extension GemmReference {
    static func run<T: BLASScalar>(_ p: GemmParameters, a: [T], b: [T], c: inout [T], bias: [T]?) {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            run(p, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!, bias: nil)
        } } }
    }
}
