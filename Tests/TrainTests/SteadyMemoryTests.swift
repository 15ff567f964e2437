@testable import ARMMTGPU
import Foundation
import XCTest

/// Steady memory: after the first epoch, a run holds its device buffers exactly and its resident
/// memory within allocator noise (metrics.jsonl's per-epoch "memory" lines).
final class SteadyMemoryTests: XCTestCase {
    private func memoryLines(_ dir: String) throws -> [[String: Any]] {
        try MetricsLog(path: dir + "/metrics.jsonl").read().filter { $0["type"] as? String == "memory" }
    }

    private func armmt(epochs: Int) -> RunConfig {
        var config = TrainTestSupport.config(epochs: epochs) { $0.earlyStopping.patience = nil }
        config.setModel(["kind": "armmt", "width": 8, "heads": 2, "embedding_width": 3, "cafu_hidden": 6])
        return config
    }

    func testDeviceBuffersAreFlatAcrossEpochs() throws {
        if OpenCLInventory.shared.devices.isEmpty { throw XCTSkip("no OpenCL device") }
        let data = try TrainTestSupport.dataset()
        let dir = try TrainTestSupport.runDirectory("memory-opencl")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let backend = try OpenCLBackend(deviceIndex: 0)
        let options = TrainOptions(runDirectory: dir, dataDirectory: data.directory)
        try Trainer(config: armmt(epochs: 4), dataset: data, backend: backend, options: options).run()
        let lines = try memoryLines(dir)
        XCTAssertEqual(lines.count, 4)
        let bytes = lines.compactMap { $0["device_buffer_bytes"] as? Int }, buffers = lines.compactMap { $0["device_buffers"] as? Int }
        XCTAssertEqual(bytes.count, 4)
        XCTAssertGreaterThan(bytes[0], 0)
        XCTAssertEqual(Set(bytes).count, 1, "device buffer bytes per epoch: \(bytes)")
        XCTAssertEqual(Set(buffers).count, 1, "device buffers per epoch: \(buffers)")
    }

    func testResidentMemoryIsFlatAfterTheFirstEpochs() throws {
        guard MemoryUsage.residentBytes() != nil else { throw XCTSkip("no /proc/self/status") }
        let data = try TrainTestSupport.dataset()
        let dir = try TrainTestSupport.runDirectory("memory-cpu")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TrainTestSupport.trainer(armmt(epochs: 10), data, dir).run()
        let rss = try memoryLines(dir).compactMap { $0["rss_bytes"] as? Int }
        XCTAssertEqual(rss.count, 10)
        // Epochs 1-2 warm up caches and the allocator; from then on growth would be a leak of
        // at least a batch's worth per epoch. 4 MiB over 7 epochs is far below any such leak.
        let growth = rss[9] - rss[2]
        print("rss per epoch (MiB): \(rss.map { String(format: "%.1f", Double($0) / 1048576) })")
        XCTAssertLessThan(growth, 4 << 20, "resident memory grew \(growth) bytes from epoch 3 to 10: \(rss)")
    }
}
