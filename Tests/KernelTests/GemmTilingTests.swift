import ARMMTGPU
import XCTest

/// `ARMMT_OPENCL_GEMM` and the tilings it selects: what it accepts, how it refuses, and that
/// every tiling it accepts computes the reference's products.
final class GemmTilingTests: XCTestCase {
    func testParseReadsTheTilingAndItsPadding() throws {
        let t = try GemmTiling.parse("128x64x8/8x4/1")
        XCTAssertEqual(t, GemmTiling(tileM: 128, tileN: 64, tileK: 8, workM: 8, workN: 4, pad: 1))
        XCTAssertEqual(try GemmTiling.parse(t.description), t)
        XCTAssertEqual(try GemmTiling.parse(" 32x32x16/2x2 ").pad, 0)
        XCTAssertFalse(try GemmTiling.parse("32x32x16/2x2/1").doubleBuffer)
        let db = try GemmTiling.parse("32x32x16/2x2/0/1")
        XCTAssertTrue(db.doubleBuffer)
        XCTAssertEqual(try GemmTiling.parse(db.description), db)
        XCTAssertEqual(db.vectorWidth, 1)
        let vw = try GemmTiling.parse("128x128x16/8x8/4/1/4")
        XCTAssertEqual(vw, GemmTiling(tileM: 128, tileN: 128, tileK: 16, workM: 8, workN: 8, pad: 4, doubleBuffer: true,
                                      vectorWidth: 4))
        XCTAssertEqual(try GemmTiling.parse(vw.description), vw)
        XCTAssertEqual(try GemmTiling.parse("24x40x7/2x2/2/0/2").vectorWidth, 2)
    }

    func testParseRefusesMalformedOrImpossibleTilingsNamingTheVariable() {
        let bad = [
            "", "fast", "64x64/4x4", "64x64x16/4", "64x64x16/4x4/x",
            "0x64x16/1x1", "64x64x0/4x4", "-64x64x16/4x4", "64x64x16/3x4", "64x64x16/4x5",
            "2048x64x16/8x8", "64x64x16/4x4/65", "256x256x8/16x32", "64x64x16/4x4/1/2", "64x64x16/4x4/1/1/1/1",
            // Vector widths: not 1, 2 or 4; not dividing the work per item or the padding.
            "64x64x16/4x4/0/0/3", "64x64x16/8x8/0/0/8", "64x64x16/2x4/0/0/4", "64x64x16/4x2/0/0/4",
            "64x64x16/4x4/1/0/4", "64x64x16/4x4/0/0/x",
        ]
        for text in bad {
            XCTAssertThrowsError(try GemmTiling.parse(text), text) { error in
                guard let e = error as? EngineError else { return XCTFail("\(text): \(error)") }
                XCTAssertEqual(e.kind, .usage, text)
                XCTAssertTrue(e.message.hasPrefix("ARMMT_OPENCL_GEMM=\"\(text)\": "), e.message)
                XCTAssertFalse(e.message.contains("\n"), e.message)
            }
        }
    }

    func testTheEnvironmentOverridesTheDefaultWithinTheDeviceLimits() throws {
        guard var info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        XCTAssertEqual(try DeviceTuning.forDevice(info, environment: [:]).gemm, DeviceTuning.forDevice(info).gemm)
        XCTAssertEqual(try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM": ""]).gemm,
                       DeviceTuning.forDevice(info).gemm)
        let chosen = try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM": "16x32x4/2x2/1"])
        XCTAssertEqual(chosen.gemm, GemmTiling(tileM: 16, tileN: 32, tileK: 4, workM: 2, workN: 2, pad: 1))

        // 8 × 16 work-items, and 4·4·(16 + 32 + 2) bytes of local memory.
        info.maxWorkGroupSize = 127
        XCTAssertThrowsError(try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM": "16x32x4/2x2/1"])) {
            XCTAssertTrue(String(describing: $0).contains("128 work-items per group, the device allows 127"), "\($0)")
        }
        info.maxWorkGroupSize = 128
        info.localMemoryBytes = 799
        XCTAssertThrowsError(try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM": "16x32x4/2x2/1"])) {
            XCTAssertTrue(String(describing: $0).contains("800 bytes of local memory, the device has 799"), "\($0)")
        }
        info.localMemoryBytes = 800
        XCTAssertNoThrow(try DeviceTuning.forDevice(info, environment: ["ARMMT_OPENCL_GEMM": "16x32x4/2x2/1"]))

        // A device too small for the default tiling says so and names the way out.
        info.maxWorkGroupSize = 16
        XCTAssertThrowsError(try DeviceTuning.forDevice(info, environment: [:])) {
            let text = String(describing: $0)
            XCTAssertTrue(text.contains("the default GEMM tiling") && text.contains("set ARMMT_OPENCL_GEMM"), text)
        }
    }

    /// The GEMM cases under tilings unlike either default (the first was the CPU device's):
    /// one output per work-item, tiles
    /// and work that differ between M and N, a reduction step that divides none of the k,
    /// padded local rows, double buffering (with shares of a tile that do not divide it), vector
    /// reads of two and four floats (with tiles whose runs leave a partial run at the matrix edge).
    func testOpenCLMatchesReferenceUnderOtherTilings() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        for text in ["32x32x16/2x2/0", "16x16x8/1x1/0", "8x32x5/2x8/1", "64x32x16/4x2/1", "96x64x8/8x8/3", "16x16x8/1x1/0/1",
                     "24x40x7/4x4/1/1", "64x64x16/4x4/1/1", "64x64x16/4x4/4/0/4", "24x40x7/4x4/0/1/4",
                     "16x16x8/2x2/2/0/2", "96x64x8/8x4/4/1/4"] {
            var tuning = DeviceTuning.forDevice(info)
            tuning.gemm = try GemmTiling.parse(text)
            let backend = try OpenCLBackend(deviceIndex: 0, cache: KernelCache(directory: TestBackends.testCacheDirectory), tuning: tuning)
            let rows = SelfTest.run(GemmChecks.cases(), on: backend)
            XCTAssertEqual(rows.count, GemmChecks.cases().count, text)
            for f in rows where !f.passed { XCTFail("\(text): \(f.shape): \(f.detail ?? "failed")") }
        }
    }

    /// Vector reads change which outputs a work-item owns, not how any output is summed: the
    /// same tile under VW = 1, 2 and 4 gives the same bits, on every transpose and an edge.
    func testVectorReadsGiveTheSameBitsAsScalarReads() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        var rng = SeededRandom(seed: 29)
        let (m, n, k) = (45, 71, 37)
        let a = rng.floats(m * k), b = rng.floats(k * n), bias = rng.floats(n)
        var outputs: [String: [Float]] = [:]
        for vw in [1, 2, 4] {
            var tuning = DeviceTuning.forDevice(info)
            tuning.gemm = GemmTiling(tileM: 32, tileN: 48, tileK: 8, workM: 4, workN: 4, pad: 4, vectorWidth: vw)
            let backend = try OpenCLBackend(deviceIndex: 0, cache: KernelCache(directory: TestBackends.testCacheDirectory), tuning: tuning)
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let p = GemmParameters(m: m, n: n, k: k, transA: ta, transB: tb, alpha: 0.5, beta: 0)
                let c = try backend.tensor([Float](repeating: .nan, count: m * n), shape: [m * n])
                try backend.gemm(p, a: try backend.tensor(a, shape: [m * k]), b: try backend.tensor(b, shape: [k * n]),
                                 c: c, bias: try backend.tensor(bias, shape: [n]))
                let got = try backend.read(c)
                XCTAssertFalse(got.contains { !$0.isFinite }, "VW=\(vw) ta=\(ta) tb=\(tb): an output left unwritten")
                let key = "\(ta)\(tb)"
                if let first = outputs[key] {
                    XCTAssertEqual(got.map(\.bitPattern), first.map(\.bitPattern), "VW=\(vw) ta=\(ta) tb=\(tb)")
                } else {
                    outputs[key] = got
                }
            }
        }
    }
}
