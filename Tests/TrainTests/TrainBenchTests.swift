import ARMMTGPU
import Foundation
import XCTest

/// `bench train`'s code path at tiny dims: it runs whole steps, reports a finite, positive rate
/// and ends its text report with `requests_per_s=`. No timed assertions.
final class TrainBenchTests: XCTestCase {
    private func tinyConfig() -> TrainBenchConfig {
        var c = TrainBenchConfig()
        c.data.trainRequests = 12
        c.data.items = 40
        c.data.users = 10
        c.data.categories = 4
        c.data.kMax = 5
        c.data.lMax = 4
        c.data.textDim = 6
        c.data.imageDim = 5
        c.data.queryDim = 4
        c.model.width = 8
        c.model.heads = 2
        c.model.embeddingWidth = 3
        c.model.cafuHidden = 6
        c.batchSize = 4
        c.warmup = 1
        c.steps = 2
        return c
    }

    func testTinyBenchRunsAndReportsRequestsPerSecondLast() throws {
        var messages: [String] = []
        let r = try TrainBenchmark.run(tinyConfig(), backend: CPUBackend()) { messages.append($0) }
        XCTAssertTrue(r.requestsPerS.isFinite && r.requestsPerS > 0, "requests_per_s = \(r.requestsPerS)")
        XCTAssertTrue(r.medianStepMs > 0 && r.medianStepMs.isFinite)
        XCTAssertTrue(r.finalLoss.isFinite)
        XCTAssertEqual([r.batch, r.kMax, r.lMax, r.width, r.heads, r.steps, r.warmup], [4, 5, 4, 8, 2, 2, 1])
        XCTAssertEqual(messages.filter { $0.hasPrefix("step ") }.count, 3, "\(messages)")
        let last = try XCTUnwrap(r.lines.last)
        XCTAssertTrue(last.hasPrefix("requests_per_s="), last)
        XCTAssertEqual(Double(last.dropFirst("requests_per_s=".count)) ?? -1, r.requestsPerS, accuracy: 0.05 + 1e-3 * r.requestsPerS)
        let object = try JSONSerialization.jsonObject(with: Data(try r.json().utf8)) as? [String: Any]
        XCTAssertEqual(try XCTUnwrap(object?["requests_per_s"] as? Double), r.requestsPerS, accuracy: 1e-9 * r.requestsPerS)
        XCTAssertNotNil(object?["median_forward_backward_ms"])
        XCTAssertNil(r.hostWritesPerStep, "the CPU backend writes nothing to a device")
        XCTAssertNil(r.kernelLaunchesPerStep)
        XCTAssertFalse(r.lines.contains { $0.hasPrefix("device work per step") }, "\(r.lines)")
    }

    /// On OpenCL the report counts the host's writes per step; keeping the item vectors on the
    /// device (40 items × (6 + 5) floats) leaves fewer bytes to write than gathering them on the host.
    func testOpenCLBenchCountsHostWrites() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        var results: [TrainBenchResult] = []
        for budget in [1 << 20, 0] {
            var t = try DeviceTuning.forDevice(info, environment: [:])
            t.itemVectorBudgetBytes = budget
            t.stagedWrites = budget > 0
            results.append(try TrainBenchmark.run(tinyConfig(), backend: try OpenCLBackend(deviceIndex: 0, tuning: t)))
        }
        let (kept, host) = (results[0], results[1])
        XCTAssertEqual(kept.itemVectorsOnDevice, 40 * 11 * 4)
        XCTAssertNil(host.itemVectorsOnDevice)
        let keptBytes = try XCTUnwrap(kept.hostWriteBytesPerStep), hostBytes = try XCTUnwrap(host.hostWriteBytesPerStep)
        XCTAssertTrue(keptBytes > 0 && keptBytes < hostBytes, "\(keptBytes) bytes kept, \(hostBytes) on the host")
        XCTAssertGreaterThan(try XCTUnwrap(kept.hostWritesPerStep), 0)
        XCTAssertEqual(kept.finalLoss, host.finalLoss)
        let launches = try XCTUnwrap(kept.kernelLaunchesPerStep)
        XCTAssertGreaterThan(launches, 20)
        XCTAssertEqual(host.kernelLaunchesPerStep, launches - 2, "the host gather saves the two gather launches")
        XCTAssertTrue(kept.lines.contains { $0.hasPrefix("device work per step (medians): \(launches) kernel launches, ")
                                            && $0.contains(" staged writes of ") && $0.hasSuffix("kept on the device (1.7 KiB)") },
                      "\(kept.lines)")
        XCTAssertTrue(host.lines.contains { $0.contains(" blocking writes of ") && $0.hasSuffix("item vectors gathered on the host") },
                      "\(host.lines)")
        XCTAssertEqual([kept.stagedWrites, host.stagedWrites], [true, false])
        XCTAssertEqual(kept.lines.last?.hasPrefix("requests_per_s="), true)
        let object = try JSONSerialization.jsonObject(with: Data(try kept.json().utf8)) as? [String: Any]
        XCTAssertEqual(object?["item_vectors_on_device_bytes"] as? Int, 1760)
        XCTAssertEqual(object?["host_write_bytes_per_step"] as? Int, keptBytes)
    }

    func testBadSizesAreRefused() throws {
        var c = tinyConfig()
        c.steps = 0
        XCTAssertThrowsError(try TrainBenchmark.run(c, backend: CPUBackend())) { error in
            XCTAssertTrue("\(error)".contains("--steps"), "\(error)")
        }
        c = tinyConfig()
        c.batchSize = 13
        XCTAssertThrowsError(try TrainBenchmark.run(c, backend: CPUBackend())) { error in
            XCTAssertTrue("\(error)".contains("batch of 13"), "\(error)")
        }
    }
}
