@testable import ARMMTGPU
import Foundation
import XCTest

final class RuntimeTests: XCTestCase {
    func testDeviceSelectorParsing() throws {
        XCTAssertEqual(try DeviceSelector(parsing: "auto"), .auto)
        XCTAssertEqual(try DeviceSelector(parsing: "CPU"), .cpu)
        XCTAssertEqual(try DeviceSelector(parsing: "opencl"), .opencl(nil))
        XCTAssertEqual(try DeviceSelector(parsing: "opencl:3"), .opencl(3))
        for bad in ["gpu", "opencl:", "opencl:-1", "opencl:x", ""] {
            XCTAssertThrowsError(try DeviceSelector(parsing: bad)) { error in
                XCTAssertEqual((error as? EngineError)?.kind, .usage)
                XCTAssertTrue("\(error)".contains("not one of auto, cpu, opencl, opencl:N"), "\(error)")
            }
        }
    }

    func testEnvironmentSelectsDeviceWhenFlagAbsent() throws {
        XCTAssertEqual(try DeviceSelector.resolve(flag: nil, environment: ["ARMMT_DEVICE": "cpu"]), .cpu)
        XCTAssertEqual(try DeviceSelector.resolve(flag: "opencl:0", environment: ["ARMMT_DEVICE": "cpu"]), .opencl(0))
        XCTAssertEqual(try DeviceSelector.resolve(flag: nil, environment: [:]), .auto)
        XCTAssertThrowsError(try DeviceSelector.resolve(flag: nil, environment: ["ARMMT_DEVICE": "tpu"])) { error in
            XCTAssertTrue("\(error)".contains("ARMMT_DEVICE='tpu'"), "\(error)")
        }
    }

    func testMissingOpenCLDeviceIsAClearError() throws {
        XCTAssertThrowsError(try DeviceSelector.opencl(9).makeBackend()) { error in
            XCTAssertEqual((error as? EngineError)?.kind, .usage)
            let text = "\(error)"
            XCTAssertTrue(text.contains("opencl:9"), text)
            XCTAssertTrue(text.contains("no such OpenCL device") || text.contains("no OpenCL platform"), text)
        }
    }

    func testAutoNeverPicksAnOpenCLCPUDevice() throws {
        let inventory = OpenCLInventory.shared
        let pick = try DeviceSelector.auto.openCLIndex(in: inventory)
        if let pick { XCTAssertTrue(inventory.devices[pick].isGPU) } else {
            XCTAssertFalse(inventory.devices.contains { $0.isGPU })
        }
    }

    func testNoICDIsReportedNotFatal() {
        let empty = OpenCLInventory(devices: [], deviceIDs: [], unavailableReason: "no OpenCL platform found")
        let info = EngineInfo.gather(inventory: empty)
        XCTAssertFalse(info.openCLAvailable)
        XCTAssertEqual(info.autoSelects, "cpu")
        XCTAssertTrue(info.text().contains("OpenCL: no OpenCL platform found"))
        XCTAssertTrue(info.text().contains("CPU backend: OpenBLAS"))
        XCTAssertThrowsError(try DeviceSelector.opencl(nil).makeBackend(inventory: empty))
        XCTAssertTrue(try DeviceSelector.auto.makeBackend(inventory: empty) is CPUBackend)
    }

    func testInfoListsDevicesAndJSONRoundTrips() throws {
        let info = EngineInfo.gather()
        let decoded = try JSONDecoder().decode(EngineInfo.self, from: Data(try info.json().utf8))
        XCTAssertEqual(decoded.devices.count, info.devices.count)
        XCTAssertGreaterThan(decoded.cpu.threads, 0)
        for d in info.devices {
            XCTAssertFalse(d.name.isEmpty)
            XCTAssertGreaterThan(d.computeUnits, 0)
            XCTAssertGreaterThan(d.globalMemoryBytes, 0)
        }
    }

    func testBuildErrorCarriesCompilerLog() throws {
        let ocl = try TestBackends.requireOpenCL()
        let broken = "__kernel void broken(__global float* x) { x[0] = undefined_symbol_armmt + ; }"
        XCTAssertThrowsError(try OpenCLProgram.build(name: "broken", source: broken, options: "", context: ocl.context, cache: nil)) { error in
            guard let e = error as? KernelBuildError else { return XCTFail("expected KernelBuildError, got \(error)") }
            XCTAssertEqual(e.device, ocl.context.info.name)
            XCTAssertTrue(e.log.contains("undefined_symbol_armmt") || e.log.contains("expected expression"), e.log)
            XCTAssertTrue("\(e)".contains(ocl.context.info.name))
        }
    }

    func testCacheHitsAndRejectsCorruptEntries() throws {
        let ocl = try TestBackends.requireOpenCL()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("armmt-cache-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = "__kernel void scale(__global float* x, const float s) { x[get_global_id(0)] *= s; }"

        let cache = KernelCache(directory: dir)
        let first = try OpenCLProgram.build(name: "scale", source: source, options: "", context: ocl.context, cache: cache)
        XCTAssertFalse(first.loadedFromCache)
        XCTAssertEqual(cache.misses, 1)

        let second = try OpenCLProgram.build(name: "scale", source: source, options: "", context: ocl.context, cache: cache)
        XCTAssertTrue(second.loadedFromCache)
        XCTAssertEqual(cache.hits, 1)
        try assertScales(second, ocl)

        // A changed source or option is a different key: a miss, never a stale hit.
        _ = try OpenCLProgram.build(name: "scale", source: source + "\n", options: "", context: ocl.context, cache: cache)
        XCTAssertEqual(cache.misses, 2)

        // Flip one payload byte: the checksum rejects the entry and it is rebuilt from source.
        let key = cache.key(device: ocl.context.info, source: source, options: "-cl-std=CL1.2 ")
        let url = cache.url(for: key)
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 10] ^= 0xFF
        try bytes.write(to: url)
        let third = try OpenCLProgram.build(name: "scale", source: source, options: "", context: ocl.context, cache: cache)
        XCTAssertFalse(third.loadedFromCache)
        XCTAssertEqual(cache.rejected, 1)
        try assertScales(third, ocl)

        // A truncated entry too; and the rebuild rewrote a good entry, which hits again.
        let good = try Data(contentsOf: url)
        try good.prefix(20).write(to: url)
        _ = try OpenCLProgram.build(name: "scale", source: source, options: "", context: ocl.context, cache: cache)
        XCTAssertEqual(cache.rejected, 2)
        let fourth = try OpenCLProgram.build(name: "scale", source: source, options: "", context: ocl.context, cache: cache)
        XCTAssertTrue(fourth.loadedFromCache)
    }

    private func assertScales(_ program: OpenCLProgram, _ ocl: OpenCLBackend) throws {
        let k = try program.kernel("scale")
        let t = try ocl.tensor([1, 2, 3], shape: [3])
        try k.launch([.buffer(t.storage as! OpenCLBuffer), .float(2)], global: [3], local: nil)
        XCTAssertEqual(try ocl.read(t), [2, 4, 6])
    }

    func testLaunchErrorNamesKernelAndSizes() throws {
        let ocl = try TestBackends.requireOpenCL()
        let program = try OpenCLProgram.build(
            name: "fixed", source: "__kernel __attribute__((reqd_work_group_size(4,1,1))) void fixed(__global float* x) { x[get_global_id(0)] = 1; }",
            options: "", context: ocl.context, cache: nil)
        let k = try program.kernel("fixed")
        let t = try ocl.makeTensor([8])
        XCTAssertThrowsError(try k.launch([.buffer(t.storage as! OpenCLBuffer)], global: [8], local: [2])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("kernel fixed"), text)
            XCTAssertTrue(text.contains("CL_INVALID_WORK_GROUP_SIZE"), text)
            XCTAssertTrue(text.contains("[8]") && text.contains("[2]"), text)
        }
    }

    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex(Array("".utf8)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array(repeating: UInt8(ascii: "a"), count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func testKernelCacheDirectoryFromEnvironment() {
        XCTAssertEqual(KernelCache.defaultDirectory(environment: ["ARMMT_KERNEL_CACHE": "/tmp/x"]).path, "/tmp/x")
        XCTAssertEqual(KernelCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/tmp/y"]).path, "/tmp/y/armmt-gpu")
    }

    func testEveryKernelFamilyCompiles() throws {
        let ocl = try TestBackends.requireOpenCL()
        try ocl.compileAll()
    }
}
