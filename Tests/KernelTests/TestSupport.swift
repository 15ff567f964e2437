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

/// Fused attention forward then backward on `cpu` for inputs with separate Q, K, V and a key
/// mask, every output poisoned with NaN first: the bits of O, lse, dQ, dK, dV, for tests that
/// compare runs bit for bit.
func attentionOutputBits(_ x: AttentionChecks.Inputs, on cpu: CPUBackend) throws -> [[UInt32]] {
    let p = x.params, b = p.batch, h = p.heads, dh = p.headDim, lq = p.queryLength, lk = p.keyLength
    let tq = try cpu.tensor(x.q, shape: [b, lq, h, dh]), tk = try cpu.tensor(x.k, shape: [b, lk, h, dh])
    let tv = try cpu.tensor(x.v, shape: [b, lk, h, dh]), tm = try cpu.tensor(x.mask!, shape: [b, lk])
    let tdo = try cpu.tensor(x.dOut, shape: [b, lq, h, dh])
    let to = try cpu.makeTensor(tq.shape), tl = try cpu.makeTensor([b, h, lq])
    let tdq = try cpu.makeTensor(tq.shape), tdk = try cpu.makeTensor(tk.shape), tdv = try cpu.makeTensor(tv.shape)
    for t in [to, tl, tdq, tdk, tdv] { try cpu.fill(t, with: .nan) }
    try cpu.attentionForward(p, q: tq, k: tk, v: tv, keyMask: tm, out: to, logSumExp: tl)
    try cpu.attentionBackward(p, q: tq, k: tk, v: tv, keyMask: tm, out: to, logSumExp: tl, dOut: tdo,
                              dQ: tdq, dK: tdk, dV: tdv)
    return try [to, tl, tdq, tdk, tdv].map { try cpu.read($0).map(\.bitPattern) }
}
