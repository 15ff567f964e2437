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
    }

    func testParseRefusesMalformedOrImpossibleTilingsNamingTheVariable() {
        let bad = [
            "", "fast", "64x64/4x4", "64x64x16/4", "64x64x16/4x4/x",
            "0x64x16/1x1", "64x64x0/4x4", "-64x64x16/4x4", "64x64x16/3x4", "64x64x16/4x5",
            "2048x64x16/8x8", "64x64x16/4x4/65", "256x256x8/16x32", "64x64x16/4x4/1/2", "64x64x16/4x4/1/1/1",
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

    /// The GEMM cases under tilings unlike either default: one output per work-item, tiles
    /// and work that differ between M and N, a reduction step that divides none of the k,
    /// padded local rows, double buffering (with shares of a tile that do not divide it).
    func testOpenCLMatchesReferenceUnderOtherTilings() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        for text in ["16x16x8/1x1/0", "8x32x5/2x8/1", "64x32x16/4x2/1", "96x64x8/8x8/3", "16x16x8/1x1/0/1",
                     "24x40x7/4x4/1/1", "64x64x16/4x4/1/1"] {
            var tuning = DeviceTuning.forDevice(info)
            tuning.gemm = try GemmTiling.parse(text)
            let backend = try OpenCLBackend(deviceIndex: 0, cache: KernelCache(directory: TestBackends.testCacheDirectory), tuning: tuning)
            let rows = SelfTest.run(GemmChecks.cases(), on: backend)
            XCTAssertEqual(rows.count, GemmChecks.cases().count, text)
            for f in rows where !f.passed { XCTFail("\(text): \(f.shape): \(f.detail ?? "failed")") }
        }
    }
}
