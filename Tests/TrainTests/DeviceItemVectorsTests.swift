@testable import ARMMTGPU
import Foundation
import XCTest

/// The item table's vectors kept on the device (`DeviceItemVectors`): a batch gathered there
/// computes the same bits as one gathered on the host, a batch of another table replaces the
/// copy, and the budget and its variable decide where the vectors live.
final class DeviceItemVectorsTests: XCTestCase {
    private let data = TinyModelData.shared

    /// Budget 1 GiB unless given (CPU devices such as PoCL keep nothing by default), writes
    /// blocking unless `staged` (`OpenCLUploadStaging`, a GPU's default).
    private func openCL(budget: Int = 1 << 30, staged: Bool = false) throws -> OpenCLBackend {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        var t = try DeviceTuning.forDevice(info, environment: [:])
        t.itemVectorBudgetBytes = budget
        t.stagedWrites = staged
        return try OpenCLBackend(deviceIndex: 0, tuning: t)
    }

    /// 60 items × (D_t 6 + D_v 5) float32.
    private var tinyVectorBytes: Int { data.items.count * (data.items.textDim + data.items.imageDim) * 4 }

    /// Kept vectors and staged writes, alone and together, against the host's gather with
    /// blocking writes: the same loss and gradient bits, batch after batch.
    func testKeptVectorsAndStagedWritesGiveTheSameBits() throws {
        let host = try openCL(budget: 0)
        let variants = [("kept", try openCL()), ("staged", try openCL(budget: 0, staged: true)),
                        ("kept and staged", try openCL(staged: true))]
        for config in [TinyModelData.tinyConfig(), TinyModelData.tinyConfig(seed: 4).with { $0.gate = .vector }] {
            let b = try ARMMTModel(config: config, schema: data.schema, backend: host, maxBatch: 4)
            let models = try variants.map { (name: $0.0, model: try ARMMTModel(config: config, schema: data.schema, backend: $0.1, maxBatch: 4)) }
            for requests in [[0, 1, 2], [5], [3, 4, 6, 7]] {
                let batch = try data.batch(requests)
                let lb = try b.computeGradients(batch, items: data.items)
                let gb = try ModelTestSupport.layerGradients(b)
                XCTAssertNil(b.residentItemVectorBytes)
                for (name, a) in models {
                    let la = try a.computeGradients(batch, items: data.items)
                    XCTAssertEqual(a.residentItemVectorBytes, name == "staged" ? nil : tinyVectorBytes, name)
                    XCTAssertEqual([la.total, la.main, la.aux] + la.perTarget, [lb.total, lb.main, lb.aux] + lb.perTarget, name)
                    let ga = try ModelTestSupport.layerGradients(a)
                    XCTAssertEqual(ga.map(\.name), gb.map(\.name))
                    for (x, y) in zip(ga, gb) { XCTAssertEqual(x.values, y.values, "\(name): \(x.name) gradient, requests \(requests)") }
                }
            }
        }
    }

    func testABatchOfAnotherTableReplacesTheCopy() throws {
        let otherItems = try OtherItems.items
        XCTAssertNotEqual(otherItems.gatherText([0, 1]), data.items.gatherText([0, 1]), "the two tables must differ")
        let kept = try openCL(), host = try openCL(budget: 0)
        let config = TinyModelData.tinyConfig()
        let a = try ARMMTModel(config: config, schema: data.schema, backend: kept, maxBatch: 4)
        let b = try ARMMTModel(config: config, schema: data.schema, backend: host, maxBatch: 4)
        let batch = try data.batch([0, 1, 2])
        var logits: [[Float]] = []
        for items in [data.items, otherItems, data.items] {
            let pa = try a.predict(batch, items: items), pb = try b.predict(batch, items: items)
            XCTAssertTrue(a.inputs.residentVectors?.items === items)
            XCTAssertEqual(pa.logits, pb.logits)
            logits.append(pa.logits)
        }
        XCTAssertNotEqual(logits[0], logits[1], "another table's vectors must change the scores")
        XCTAssertEqual(logits[0], logits[2])
    }

    func testTheBudgetDecides() throws {
        for (budget, expected) in [(tinyVectorBytes, tinyVectorBytes as Int?), (tinyVectorBytes - 1, nil)] {
            let model = try ARMMTModel(config: TinyModelData.tinyConfig(), schema: data.schema,
                                       backend: try openCL(budget: budget), maxBatch: 4)
            _ = try model.computeGradients(try data.batch([0, 1]), items: data.items)
            XCTAssertEqual(model.residentItemVectorBytes, expected, "budget \(budget)")
        }
        // The CPU backend gathers on the host, into its tensors.
        let cpu = try ARMMTModel(config: TinyModelData.tinyConfig(), schema: data.schema, backend: CPUBackend(), maxBatch: 4)
        _ = try cpu.computeGradients(try data.batch([0, 1]), items: data.items)
        XCTAssertNil(cpu.residentItemVectorBytes)
    }

    /// The copy must leave the model half the device memory it has left, and each table must fit
    /// one allocation: 60 × 6 text floats are 1,440 bytes, the two tables 2,640.
    func testTheDeviceMustHoldTheCopyWithRoomToSpare() throws {
        guard !OpenCLInventory.shared.devices.isEmpty else { throw XCTSkip("no OpenCL device") }
        func backend(global: UInt64, maxAllocation: UInt64) throws -> OpenCLBackend {
            var inventory = OpenCLInventory.shared
            inventory.devices[0].globalMemoryBytes = global
            inventory.devices[0].maxAllocationBytes = maxAllocation
            var t = try DeviceTuning.forDevice(inventory.devices[0], environment: [:])
            t.itemVectorBudgetBytes = 1 << 30
            return try OpenCLBackend(deviceIndex: 0, tuning: t, inventory: inventory)
        }
        for (left, kept) in [(6_000, true), (5_000, false)] {
            let be = try backend(global: 1 << 20, maxAllocation: 1 << 20)
            let filler = try be.makeTensor([((1 << 20) - left) / 4])
            XCTAssertEqual(DeviceItemVectors.fits(data.items, [.text, .image], on: be), kept, "\(left) bytes left")
            _ = filler
        }
        XCTAssertFalse(DeviceItemVectors.fits(data.items, [.text, .image], on: try backend(global: 1 << 20, maxAllocation: 1_000)))
        XCTAssertTrue(DeviceItemVectors.fits(data.items, [.text, .image], on: try backend(global: 1 << 20, maxAllocation: 1_440)))
    }

    /// Blocks of 7 rows over 60 items: whole blocks and a partial last one.
    func testTheCopyHoldsTheTableWrittenInBlocks() throws {
        let all = (0..<Int32(data.items.count)).map { $0 }
        for be in [try openCL() as Backend, CPUBackend()] {
            for rows in [7, 60, 4096] {
                let copy = try DeviceItemVectors(be, items: data.items, modalities: [.text, .image], blockRows: rows)
                XCTAssertEqual(try be.read(copy.tables[.text]!), data.items.gatherText(all), "\(be.name), blocks of \(rows)")
                XCTAssertEqual(try be.read(copy.tables[.image]!), data.items.gatherImage(all), "\(be.name), blocks of \(rows)")
            }
        }
    }

    func testWritesAtAnOffsetStayInTheTensor() throws {
        for be in [try openCL() as Backend, CPUBackend()] {
            let t = try be.tensor([1, 2, 3, 4, 5], shape: [5])
            try be.write([8, 9], to: t, elementOffset: 3)
            XCTAssertEqual(try be.read(t), [1, 2, 3, 8, 9])
            for offset in [-1, 4] {
                XCTAssertThrowsError(try be.write([8, 9], to: t, elementOffset: offset)) { error in
                    XCTAssertTrue("\(error)".contains("outside a tensor of 5"), "\(error)")
                }
            }
            XCTAssertEqual(try be.read(t), [1, 2, 3, 8, 9])
        }
    }

    func testTheBudgetVariable() throws {
        guard let info = OpenCLInventory.shared.devices.first else { throw XCTSkip("no OpenCL device") }
        let name = DeviceTuning.itemVectorsVariable
        XCTAssertEqual(try DeviceTuning.forDevice(info, environment: [:]).itemVectorBudgetBytes,
                       info.isGPU ? Int(info.globalMemoryBytes / 4) : 0)
        XCTAssertEqual(try DeviceTuning.forDevice(info, environment: [name: "0"]).itemVectorBudgetBytes, 0)
        XCTAssertEqual(try DeviceTuning.forDevice(info, environment: [name: " 3 "]).itemVectorBudgetBytes, 3 << 20)
        for bad in ["-1", "1.5", "lots", "2000000000"] {
            XCTAssertThrowsError(try DeviceTuning.forDevice(info, environment: [name: bad])) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("\(name)=\"\(bad)\"") && !text.contains("\n"), text)
            }
        }
    }
}

/// A second tiny data set with the first one's schema and other vectors.
private enum OtherItems {
    static let shared = Result<Dataset, Error> {
        let directory = try DataTestSupport.temporaryDirectory("model-other-items")
        try SynthGenerator.generate(TinyModelData.synthConfig(seed: 12), into: directory)
        return try Dataset(directory: directory)
    }
    static var items: ItemTable { get throws { try shared.get().items } }
}
