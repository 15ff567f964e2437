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
