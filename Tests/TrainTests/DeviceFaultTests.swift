@testable import ARMMTGPU
import Foundation
import XCTest

/// Device faults: an allocation that does not fit names the size asked for and what is
/// available; a model whose batch does not fit says which batch size to lower. Runs on the
/// first OpenCL device (PoCL in CI) with its memory limits lowered, so nothing large is allocated.
final class DeviceFaultTests: XCTestCase {
    /// The real device, reporting `global` bytes of global memory and `maxAllocation` per buffer.
    private func smallDevice(global: UInt64, maxAllocation: UInt64) throws -> OpenCLInventory {
        var inventory = OpenCLInventory.shared
        if inventory.devices.isEmpty { throw XCTSkip("no OpenCL device") }
        inventory.devices[0].globalMemoryBytes = global
        inventory.devices[0].maxAllocationBytes = maxAllocation
        return inventory
    }

    private func expectMessage(_ parts: [String], _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an error mentioning \(parts)", file: file, line: line)
        } catch let e as EngineError {
            XCTAssertEqual(e.kind, .runtime, e.message, file: file, line: line)
            XCTAssertFalse(e.message.contains("\n"), e.message, file: file, line: line)
            for p in parts { XCTAssertTrue(e.message.contains(p), "'\(p)' missing from: \(e.message)", file: file, line: line) }
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }

    func testAllocationsThatDoNotFitNameAskedAndAvailable() throws {
        let context = try OpenCLContext(deviceIndex: 0, inventory: try smallDevice(global: 4 << 20, maxAllocation: 2 << 20))
        expectMessage(["cannot allocate 3.0 MiB", "largest single allocation is 2.0 MiB", "global memory 4.0 MiB"]) {
            _ = try context.makeBuffer(byteCount: 3 << 20)
        }
        let a = try context.makeBuffer(byteCount: 2 << 20)
        let b = try context.makeBuffer(byteCount: 1 << 20)
        XCTAssertEqual(context.memory.liveBytes, 3 << 20)
        XCTAssertEqual(context.memory.liveBuffers, 2)
        expectMessage(["cannot allocate 1.5 MiB", "1.0 MiB of its 4.0 MiB global memory is left", "3.0 MiB held in 2 buffers"]) {
            _ = try context.makeBuffer(byteCount: 3 << 19)
        }
        withExtendedLifetime((a, b)) {}
    }

    func testLiveBufferBytesReturnToZero() throws {
        let backend = try OpenCLBackend(deviceIndex: 0, inventory: try smallDevice(global: 64 << 20, maxAllocation: 16 << 20))
        let before = backend.context.memory.liveBytes
        do {
            let t = try backend.makeTensor([1000])
            XCTAssertEqual(backend.context.memory.liveBytes, before + 4000)
            withExtendedLifetime(t) {}
        }
        XCTAssertEqual(backend.context.memory.liveBytes, before)
        XCTAssertGreaterThanOrEqual(backend.context.memory.peakBytes, before + 4000)
    }

    func testABatchThatDoesNotFitSaysWhichBatchSize() throws {
        let backend = try OpenCLBackend(deviceIndex: 0, inventory: try smallDevice(global: 2 << 20, maxAllocation: 1 << 20))
        let data = try TrainTestSupport.dataset()
        var config = TrainTestSupport.config(epochs: 1, batchSize: 120)
        config.setModel(["kind": "armmt", "width": 32, "heads": 2])
        let dir = try TrainTestSupport.runDirectory("device-fault")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        expectMessage(["batches of 120 requests", "train.batch_size 120", "cannot allocate", "try a smaller batch_size"]) {
            _ = try Trainer(config: config, dataset: data, backend: backend, options: TrainOptions(runDirectory: dir))
        }
    }
}
