import ARMMTGPU
import Foundation
import XCTest

/// Backends every equivalence test runs on: the CPU backend always, and the first OpenCL
/// device (PoCL in CI) when one exists. One OpenCL backend per process keeps PoCL's compile
/// cost to one build per kernel family.
enum TestBackends {
    static let cpu = CPUBackend()
    static let openCL: OpenCLBackend? = {
        guard !OpenCLInventory.shared.devices.isEmpty else { return nil }
        return try? OpenCLBackend(deviceIndex: 0, cache: KernelCache(directory: testCacheDirectory))
    }()

    static let testCacheDirectory = FileManager.default.temporaryDirectory
        .appendingPathComponent("armmt-test-kernel-cache-\(getpid())")

    static func requireOpenCL(file: StaticString = #filePath, line: UInt = #line) throws -> OpenCLBackend {
        guard let b = openCL else {
            throw XCTSkip("no OpenCL device on this machine (install pocl-opencl-icd)")
        }
        return b
    }
}

/// Runs equivalence cases on a backend and fails the test with every failing case named.
func assertCasesPass(_ cases: [EquivalenceCase], on backend: Backend, file: StaticString = #filePath, line: UInt = #line) {
    let rows = SelfTest.run(cases, on: backend)
    let failures = rows.filter { !$0.passed }
    for f in failures.prefix(20) {
        XCTFail("\(backend.name): \(f.op) \(f.shape): \(f.detail ?? "failed")", file: file, line: line)
    }
    if failures.count > 20 { XCTFail("… and \(failures.count - 20) more failures", file: file, line: line) }
    XCTAssertEqual(rows.count, cases.count, file: file, line: line)
}
