@testable import ARMMTGPU
import XCTest

/// The OpenCL GEMM's split reduction (`GemmSplitPlan`): when it splits, into what, and that the
/// split products match the reference on this machine's OpenCL device.
final class GemmSplitTests: XCTestCase {
    private let gpuTiling = GemmTiling(tileM: 64, tileN: 64, tileK: 16, workM: 4, workN: 4, pad: 1)

    private func plan(_ m: Int, _ n: Int, _ k: Int, batch: Int = 1, tiling: GemmTiling? = nil, units: Int = 132) -> GemmSplitPlan {
        var p = GemmParameters(m: m, n: n, k: k, transA: true, transB: false, alpha: 1, beta: 0)
        p.batchCount = batch
        return GemmSplitPlan(p, tiling: tiling ?? gpuTiling, computeUnits: units)
    }

    func testWeightGradientsSplitToFillTheDevice() {
        // The list layers' dW: one tile, 8192 rows: slices of 256, the fewest k a slice takes.
        XCTAssertEqual(plan(64, 64, 8192), GemmSplitPlan(slices: 32, sliceLength: 256))
        // The text projection's dW: 6 tiles, two work-groups per unit wanted: 44 slices of 480.
        XCTAssertEqual(plan(64, 384, 20992), GemmSplitPlan(slices: 44, sliceLength: 480))
        // 64 tiles of 128 × 128 on 132 units: 5 wanted, 4 allowed by k = 1024.
        let wide = GemmTiling(tileM: 128, tileN: 128, tileK: 16, workM: 8, workN: 8)
        XCTAssertEqual(plan(1024, 1024, 1024, tiling: wide), GemmSplitPlan(slices: 4, sliceLength: 256))
    }

    func testProductsThatFillTheDeviceOrHaveShortReductionsDoNotSplit() {
        XCTAssertFalse(plan(1024, 1024, 1024).isSplit)          // 256 tiles on 132 units
        XCTAssertFalse(plan(64, 64, 511).isSplit)               // one slice's worth of k
        XCTAssertFalse(plan(64, 64, 8192, batch: 3).isSplit)    // batched: no split
        XCTAssertFalse(plan(64, 64, 8192, units: 1).isSplit)    // one tile fills one unit
        XCTAssertFalse(plan(64, 64, 8192, units: 0).isSplit)    // ARMMT_OPENCL_GEMM_SPLIT=0
        XCTAssertEqual(plan(64, 64, 0), GemmSplitPlan(slices: 1, sliceLength: 0))
        // The partials' workspace stays within its bound.
        let huge = plan(4000, 4000, 1 << 20, tiling: GemmTiling(tileM: 1024, tileN: 1024, tileK: 16, workM: 32, workN: 32))
        XCTAssertEqual(huge.slices, 2)
        XCTAssertLessThanOrEqual(huge.slices * 4000 * 4000, GemmSplitPlan.maximumPartialFloats)
    }

    func testSlicesCoverTheReductionOnceStartingOnReductionSteps() {
        var rng = SeededRandom(seed: 5)
        for _ in 0..<500 {
            let m = 1 + Int(rng.next() % 200), n = 1 + Int(rng.next() % 200), k = Int(rng.next() % 50_000)
            let tk = 1 + Int(rng.next() % 32), units = 1 + Int(rng.next() % 200)
            let tiling = GemmTiling(tileM: 64, tileN: 32, tileK: tk, workM: 4, workN: 4)
            let s = plan(m, n, k, tiling: tiling, units: units)
            let context = "m=\(m) n=\(n) k=\(k) tk=\(tk) units=\(units): \(s)"
            guard s.isSplit else { continue }
            XCTAssertEqual(s.sliceLength % tk, 0, context)
            XCTAssertGreaterThanOrEqual(s.sliceLength, GemmSplitPlan.minimumSliceLength, context)
            XCTAssertLessThan((s.slices - 1) * s.sliceLength, k, context)   // the last slice is not empty
            XCTAssertGreaterThanOrEqual(s.slices * s.sliceLength, k, context)
        }
    }

    /// The split cases of `GemmChecks` do split on this machine's OpenCL device, and match the
    /// reference (they also run in every `selftest`).
    func testSplitProductsMatchTheReferenceOnOpenCL() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        let tuning = try DeviceTuning.forDevice(info, environment: [:])
        for (m, n, k) in [(33, 17, 1031), (5, 3, 600)] {
            let p = GemmParameters(m: m, n: n, k: k, transA: false, transB: false, alpha: 1, beta: 0)
            XCTAssertTrue(GemmSplitPlan(p, tiling: tuning.gemm, computeUnits: tuning.gemmSplitUnits).isSplit,
                          "\(m)×\(n)×\(k) on \(info.name) (\(tuning.gemmSplitUnits) units, tiling \(tuning.gemm))")
        }
        let backend = try OpenCLBackend(deviceIndex: 0, cache: KernelCache(directory: TestBackends.testCacheDirectory), tuning: tuning)
        let cases = GemmChecks.cases().filter { $0.shape.contains("k=1031") || $0.shape.contains("k=600") }
        XCTAssertEqual(cases.count, 8)
        for row in SelfTest.run(cases, on: backend) where !row.passed { XCTFail("\(row.shape): \(row.detail ?? "failed")") }
    }

    func testTheSplitVariableSetsTheUnitsOrRefusesNamingItself() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        XCTAssertEqual(try DeviceTuning.forDevice(info, environment: [:]).gemmSplitUnits, info.computeUnits)
        XCTAssertEqual(try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM_SPLIT": "0"]).gemmSplitUnits, 0)
        XCTAssertEqual(try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM_SPLIT": " 132 "]).gemmSplitUnits, 132)
        for text in ["x", "-1", "1.5", "65537", "2 3"] {
            XCTAssertThrowsError(try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM_SPLIT": text]), text) {
                guard let e = $0 as? EngineError else { return XCTFail("\(text): \($0)") }
                XCTAssertEqual(e.kind, .usage, text)
                XCTAssertTrue(e.message.hasPrefix("ARMMT_OPENCL_GEMM_SPLIT=\"\(text)\": "), e.message)
            }
        }
    }

    /// With the split off, the same product takes the one-pass kernel: the bits then differ from
    /// the split's (the sums are grouped differently) and both match the reference.
    func testTheSplitCanBeTurnedOff() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        var rng = SeededRandom(seed: 41)
        let (m, n, k) = (40, 24, 2000)
        let a = rng.floats(m * k), b = rng.floats(k * n)
        var results: [[Float]] = []
        for units in ["0", "2"] {
            let tuning = try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM_SPLIT": units])
            let backend = try OpenCLBackend(deviceIndex: 0, cache: KernelCache(directory: TestBackends.testCacheDirectory), tuning: tuning)
            let p = GemmParameters(m: m, n: n, k: k, transA: true, transB: false, alpha: 1, beta: 0)
            XCTAssertEqual(GemmSplitPlan(p, tiling: tuning.gemm, computeUnits: tuning.gemmSplitUnits).isSplit, units == "2")
            let c = try backend.tensor([Float](repeating: .nan, count: m * n), shape: [m * n])
            try backend.gemm(p, a: try backend.tensor(a, shape: [m * k]), b: try backend.tensor(b, shape: [k * n]), c: c, bias: nil)
            results.append(try backend.read(c))
        }
        var expected = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for l in 0..<k { expected[i * n + j] += Double(a[l * m + i]) * Double(b[l * n + j]) } } }
        for r in results {
            let cmp = Comparison.compare("C", actual: r, expected: expected, tolerance: Tolerance(reductionLength: k))
            XCTAssertTrue(cmp.passed, "worst error \(cmp.worstRatio)× the tolerance")
        }
        XCTAssertNotEqual(results[0].map(\.bitPattern), results[1].map(\.bitPattern))
    }

    /// The split's partials live in one scratch buffer of the backend, kept across calls (no
    /// buffer created per product) and regrown for a larger product; a smaller, a larger and a
    /// smaller product again each match the reference.
    func testSplitPartialsAreKeptAndRegrown() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        let tuning = try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM_SPLIT": "2"])
        let backend = try OpenCLBackend(deviceIndex: 0, cache: KernelCache(directory: TestBackends.testCacheDirectory), tuning: tuning)
        let memory = backend.context.memory
        var rng = SeededRandom(seed: 77)
        var scratchBytes: [Int] = []
        for (call, (m, n, k)) in [(8, 8, 600), (40, 50, 1500), (8, 8, 600), (40, 50, 1500)].enumerated() {
            let p = GemmParameters(m: m, n: n, k: k, transA: true, transB: false, alpha: 1, beta: 0)
            let split = GemmSplitPlan(p, tiling: tuning.gemm, computeUnits: tuning.gemmSplitUnits)
            XCTAssertTrue(split.isSplit)
            let a = rng.floats(k * m), b = rng.floats(k * n)
            let ta = try backend.tensor(a, shape: [k * m]), tb = try backend.tensor(b, shape: [k * n])
            let tc = try backend.tensor([Float](repeating: .nan, count: m * n), shape: [m * n])
            let buffersBefore = memory.liveBuffers
            try backend.gemm(p, a: ta, b: tb, c: tc, bias: nil)
            scratchBytes.append(try backend.scratch("gemm split partials", byteCount: 0).byteCount)
            // The first product creates the one scratch buffer; the others create none that stays
            // (the larger one replaces it).
            XCTAssertEqual(memory.liveBuffers, buffersBefore + (call == 0 ? 1 : 0), "\(m)×\(n)×\(k)")
            var expected = [Double](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { for l in 0..<k { expected[i * n + j] += Double(a[l * m + i]) * Double(b[l * n + j]) } } }
            let cmp = Comparison.compare("C", actual: try backend.read(tc), expected: expected, tolerance: Tolerance(reductionLength: k))
            XCTAssertTrue(cmp.passed, "\(m)×\(n)×\(k): worst error \(cmp.worstRatio)× the tolerance")
        }
        // Grown once for the larger product, then kept.
        XCTAssertEqual(scratchBytes[0], 4 * 8 * 8 * GemmSplitPlan(GemmParameters(m: 8, n: 8, k: 600, transA: true, transB: false),
                                                                    tiling: tuning.gemm, computeUnits: 2).slices)
        XCTAssertGreaterThan(scratchBytes[1], scratchBytes[0])
        XCTAssertEqual(scratchBytes[2], scratchBytes[1])
        XCTAssertEqual(scratchBytes[3], scratchBytes[1])
    }
}
