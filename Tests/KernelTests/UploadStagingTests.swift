@testable import ARMMTGPU
import Foundation
import XCTest

/// Writes through the pinned upload staging (`OpenCLUploadStaging`): enqueued without waiting,
/// copied at the call (the caller may reuse its memory at once), in order with kernels, and
/// correct when the staging fills, grows or is bypassed.
final class UploadStagingTests: XCTestCase {
    private func backend(staged: Bool = true) throws -> OpenCLBackend {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        var t = try DeviceTuning.forDevice(info, environment: [:])
        t.stagedWrites = staged
        return try OpenCLBackend(deviceIndex: 0, tuning: t)
    }

    private func values(_ count: Int, seed: Float) -> [Float] {
        (0..<count).map { seed + Float($0 % 977) * 0.25 + 1 }
    }

    /// A buffer written, then the host's array changed and written elsewhere, then a kernel that
    /// reads the first: every tensor holds what its write saw, and the read frees the staging.
    func testWritesCopyAtTheCallAndStayInOrderWithKernels() throws {
        let be = try backend()
        var host = values(1000, seed: 1)
        let a = try be.makeTensor([1000]), b = try be.makeTensor([1000]), c = try be.makeTensor([1000])
        try be.write(host, to: a)
        let first = host
        for i in host.indices { host[i] = -host[i] }
        try be.write(host, to: b)
        try be.copyWindow(WindowCopy(rows: 1, cols: 1000), from: a, to: c)   // a kernel reads the first write
        try be.write(host, to: a)             // then a is written again, after the copy
        let staging = try XCTUnwrap(be.context.staging)
        XCTAssertEqual(staging.used, 3 * 4032, "three writes of 4000 bytes, each on a 64-byte boundary")
        XCTAssertEqual(try be.read(c), first)
        XCTAssertEqual(staging.used, 0, "a blocking read drains the queue")
        XCTAssertEqual(try be.read(b), host)
        XCTAssertEqual(try be.read(a), host)
    }

    /// 40 writes of 400,000 bytes without a read: the 4 MiB staging fills and drains several times.
    /// Then one write larger than the staging grows it.
    func testFillingAndGrowingKeepEveryWrite() throws {
        let be = try backend()
        let tensors = try (0..<40).map { _ in try be.makeTensor([100_000]) }
        for (i, t) in tensors.enumerated() { try be.write(values(100_000, seed: Float(i)), to: t) }
        let large = try be.makeTensor([1_500_000])
        try be.write(values(1_500_000, seed: 50), to: large)
        XCTAssertEqual(be.context.staging?.capacity, 8 << 20, "grown to twice the first 4 MiB")
        for (i, t) in tensors.enumerated() { XCTAssertEqual(try be.read(t), values(100_000, seed: Float(i)), "tensor \(i)") }
        XCTAssertEqual(try be.read(large), values(1_500_000, seed: 50))
    }

    func testAWriteLargerThanTheStagingTakesIsBlockingAndRight() throws {
        let be = try backend()
        let ctx = be.context
        let small = OpenCLUploadStaging(context: ctx.context, queue: ctx.queue, initialBytes: 256, maximumBytes: 1024)
        let data = values(300, seed: 3)
        try data.withUnsafeBytes { bytes in
            XCTAssertNil(try small.stage(bytes) { XCTFail("nothing to drain") })
            let part = UnsafeRawBufferPointer(rebasing: bytes[0..<1000])
            XCTAssertNotNil(try small.stage(part) { XCTFail("an empty staging needs no drain") })
            XCTAssertEqual(small.capacity, 1024)
            var drained = 0
            XCTAssertNotNil(try small.stage(UnsafeRawBufferPointer(rebasing: bytes[0..<100])) { drained += 1; small.queueDrained() })
            XCTAssertEqual(drained, 1, "a full staging waits for the queue before reusing its memory")
        }
    }

    func testStagingOffWritesBlockingWithoutStaging() throws {
        let be = try backend(staged: false)
        let t = try be.makeTensor([500])
        try be.write(values(500, seed: 9), to: t)
        XCTAssertNil(be.context.staging)
        XCTAssertEqual(try be.read(t), values(500, seed: 9))
    }

    func testTheStagingVariable() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        let name = DeviceTuning.stagedWritesVariable
        XCTAssertEqual(try DeviceTuning.forDevice(info, environment: [:]).stagedWrites, info.isGPU)
        XCTAssertFalse(try DeviceTuning.forDevice(info, environment: [name: "0"]).stagedWrites)
        XCTAssertTrue(try DeviceTuning.forDevice(info, environment: [name: "1"]).stagedWrites)
        for bad in ["2", "yes", "off"] {
            XCTAssertThrowsError(try DeviceTuning.forDevice(info, environment: [name: bad])) { error in
                XCTAssertTrue("\(error)".contains("\(name)=\"\(bad)\": not 0"), "\(error)")
            }
        }
    }
}
