import ARMMTGPU
import Foundation
import XCTest

/// Every bad-input case of `data check` (and every load): one deliberately broken file each,
/// one line naming the file, the tensor and the first bad row; never a crash or a silent skip.
final class DataValidationTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try DataTestSupport.temporaryDirectory("validation")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func expectLoadError(_ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        DataTestSupport.expectError(parts, file: file, line: line) { _ = try Dataset(directory: dir) }
    }

    private var train: [SafeTensorBlob] { DataTestSupport.tinyTrainBlobs() }
    private var items: [SafeTensorBlob] { DataTestSupport.tinyItemBlobs() }

    func testValidTinyDatasetLoads() throws {
        try DataTestSupport.writeTinyDataset(dir)
        let ds = try Dataset(directory: dir)
        XCTAssertEqual(ds.splits[0].count, 6)
        let b = try ds.splits[0].batch([5, 0])
        XCTAssertEqual(b.candidateMask, [1, 1, 0, 0, 1, 0, 0, 0])
        XCTAssertEqual(ds.items.hasImage[3], 0)
        XCTAssertEqual(ds.items.gatherCategorical([7, -1, 2]), [3, 0, 2])
        let summary = try DatasetSummary(ds)
        XCTAssertEqual(summary.splits[0].candidates, 1 + 2 + 3 + 4 + 1 + 2)
    }

    func testWrongDtype() throws {
        let bad = SafeTensorBlob("candidates", .F32, [6, 4], [Float](repeating: 0, count: 24))
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "candidates", with: bad))
        expectLoadError(["train.safetensors", "'candidates'", "dtype F32"])
    }

    func testWrongShape() throws {
        let bad = SafeTensorBlob("labels", .F32, [6, 4, 3], [Float](repeating: 0, count: 72))
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "labels", with: bad))
        expectLoadError(["train.safetensors", "'labels'", "shape [6, 4, 3]", "expected [6, 4, 2]"])
    }

    func testRowCountsDisagree() throws {
        let bad = SafeTensorBlob("query", .F32, [5, 2], [Float](repeating: 0, count: 10))
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "query", with: bad))
        expectLoadError(["train.safetensors", "'query'", "shape [5, 2]"])
    }

    func testCandidateIndexOutOfRange() throws {
        var cand = try readInt32(train, "candidates")
        cand[2 * 4 + 1] = 10  // items = 10
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "candidates", with: SafeTensorBlob("candidates", .I32, [6, 4], cand)))
        expectLoadError(["train.safetensors", "'candidates'", "row 2", "index 10"])
    }

    func testBehaviourIndexBelowPadding() throws {
        var beh = try readInt32(train, "behaviours")
        beh[4 * 3] = -2
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "behaviours", with: SafeTensorBlob("behaviours", .I32, [6, 3], beh)))
        expectLoadError(["train.safetensors", "'behaviours'", "row 4", "index -2"])
    }

    func testCategoricalIdOutsideVocab() throws {
        let ids = (0..<10).map { Int64($0 == 7 ? 4 : $0 % 4) }
        try DataTestSupport.writeTinyDataset(dir, items: DataTestSupport.replacing(items, "categorical", with: SafeTensorBlob("categorical", .I64, [10, 1], ids)))
        expectLoadError(["items.safetensors", "'categorical'", "row 7", "id 4"])
    }

    func testNaNInItemTextAndInfInF16Image() throws {
        var text = [Float](repeating: 0.5, count: 30)
        text[4 * 3 + 2] = .nan
        try DataTestSupport.writeTinyDataset(dir, items: DataTestSupport.replacing(items, "text", with: SafeTensorBlob("text", .F32, [10, 3], text)))
        expectLoadError(["items.safetensors", "'text'", "row 4", "NaN"])

        var image = [Float](repeating: 0.5, count: 20)
        image[9 * 2] = .infinity
        try DataTestSupport.writeTinyDataset(dir, items: DataTestSupport.replacing(items, "image", with: SafeTensorBlob.half("image", [10, 2], image)))
        expectLoadError(["items.safetensors", "'image'", "row 9"])
    }

    func testInfInQueryAndNegativeLabelAndOracleAboveOne() throws {
        var q = [Float](repeating: 0, count: 12)
        q[3 * 2 + 1] = -.infinity
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "query", with: SafeTensorBlob("query", .F32, [6, 2], q)))
        expectLoadError(["train.safetensors", "'query'", "row 3"])

        var labels = [Float](repeating: 0, count: 48)
        labels[(1 * 4 + 0) * 2] = -1
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "labels", with: SafeTensorBlob("labels", .F32, [6, 4, 2], labels)))
        expectLoadError(["train.safetensors", "'labels'", "row 1", "outside"])

        var oracle = [Float](repeating: 0.5, count: 48)
        oracle[5 * 8 + 3] = 1.5
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "oracle", with: SafeTensorBlob("oracle", .F32, [6, 4, 2], oracle)))
        expectLoadError(["train.safetensors", "'oracle'", "row 5"])
    }

    func testListWithNoValidCandidate() throws {
        var cand = try readInt32(train, "candidates")
        for j in 0..<4 { cand[3 * 4 + j] = -1 }
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "candidates", with: SafeTensorBlob("candidates", .I32, [6, 4], cand)))
        expectLoadError(["train.safetensors", "'candidates'", "row 3", "no valid candidate"])
    }

    func testEmptySplit() throws {
        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.tinyTrainBlobs(requests: 0))
        expectLoadError(["train.safetensors", "'candidates'", "empty split"])
    }

    func testTruncatedFile() throws {
        try DataTestSupport.writeTinyDataset(dir)
        let path = dir + "/train.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 5).write(to: URL(fileURLWithPath: path))
        expectLoadError(["train.safetensors", "truncated"])
        // Cut inside the header, and below the 8-byte length.
        try data.prefix(40).write(to: URL(fileURLWithPath: path))
        expectLoadError(["train.safetensors", "truncated"])
        try data.prefix(3).write(to: URL(fileURLWithPath: path))
        expectLoadError(["train.safetensors", "truncated"])
    }

    /// Raw safetensors bytes with a hand-written header (to make the header lie).
    private func rawFile(header: String, dataBytes: Int) -> Data {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var out = Data()
        var n = UInt64(h.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xFF)); n >>= 8 }
        out.append(contentsOf: h)
        out.append(contentsOf: [UInt8](repeating: 0, count: dataBytes))
        return out
    }

    func testHeaderWhoseOffsetsLie() throws {
        try DataTestSupport.writeTinyDataset(dir)
        let path = URL(fileURLWithPath: dir + "/train.safetensors")
        // Overlap: two tensors claim the same bytes.
        try rawFile(header: #"{"candidates":{"dtype":"I32","shape":[1,4],"data_offsets":[0,16]},"labels":{"dtype":"F32","shape":[1,4,2],"data_offsets":[8,40]}}"#, dataBytes: 40).write(to: path)
        expectLoadError(["train.safetensors", "'labels'", "overlaps"])
        // Byte count does not match shape × dtype.
        try rawFile(header: #"{"candidates":{"dtype":"I32","shape":[2,4],"data_offsets":[0,16]}}"#, dataBytes: 16).write(to: path)
        expectLoadError(["train.safetensors", "'candidates'", "needs 8 × 4"])
        // A gap between tensors.
        try rawFile(header: #"{"candidates":{"dtype":"I32","shape":[1,4],"data_offsets":[8,24]}}"#, dataBytes: 24).write(to: path)
        expectLoadError(["train.safetensors", "'candidates'", "gap"])
        // Offsets past the end of the file.
        try rawFile(header: #"{"candidates":{"dtype":"I32","shape":[100,4],"data_offsets":[0,1600]}}"#, dataBytes: 16).write(to: path)
        expectLoadError(["train.safetensors", "truncated", "'candidates'"])
        // Trailing bytes not covered by any tensor.
        try rawFile(header: #"{"candidates":{"dtype":"I32","shape":[1,4],"data_offsets":[0,16]}}"#, dataBytes: 24).write(to: path)
        expectLoadError(["train.safetensors", "trailing bytes"])
        // A header length larger than the file, and a header that is not JSON.
        var huge = Data([0xFF, 0xFF, 0, 0, 0, 0, 0, 0]); huge.append(contentsOf: [UInt8](repeating: 0x20, count: 16))
        try huge.write(to: path)
        expectLoadError(["train.safetensors", "truncated"])
        try rawFile(header: "{not json", dataBytes: 0).write(to: path)
        expectLoadError(["train.safetensors", "not valid JSON"])
        try rawFile(header: #"{"candidates":{"dtype":"Q7","shape":[1,4],"data_offsets":[0,16]}}"#, dataBytes: 16).write(to: path)
        expectLoadError(["train.safetensors", "'candidates'", "unsupported dtype Q7"])
    }

    func testSchemaDoesNotMatchTensors() throws {
        var s = DataTestSupport.tinySchema()
        s.dims.text = 4
        try DataTestSupport.writeTinyDataset(dir, schema: s)
        expectLoadError(["items.safetensors", "'text'", "expected [10, 4]"])

        try DataTestSupport.writeTinyDataset(dir, train: train + [SafeTensorBlob("extra", .F32, [1], [Float(1)])])
        expectLoadError(["train.safetensors", "'extra'", "not part of the schema"])

        try DataTestSupport.writeTinyDataset(dir, train: DataTestSupport.replacing(train, "user", with: nil))
        expectLoadError(["train.safetensors", "'user'", "missing"])

        s = DataTestSupport.tinySchema()
        s.mainTarget = "revenue"
        try DataTestSupport.writeTinyDataset(dir, schema: s)
        expectLoadError(["schema.json", "main_target 'revenue'"])

        s = DataTestSupport.tinySchema()
        s.splits.append(SplitEntry(name: "valid", files: ["valid.safetensors"]))
        try DataTestSupport.writeTinyDataset(dir, schema: s)
        expectLoadError(["valid.safetensors", "cannot open"])
    }

    func testNewerFormatVersionIsRefused() throws {
        try DataTestSupport.writeTinyDataset(dir)
        let path = dir + "/schema.json"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"format_version\" : 1", with: "\"format_version\" : 2, \"new_thing\" : {\"x\": 1}")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        // This build is too old for the data set: a usage error (exit 2), not bad data.
        DataTestSupport.expectError(["schema.json", "format_version 2 is newer", "upgrade"], kind: .usage) { _ = try Dataset(directory: dir) }
        try "{\"format\": \"armmt-data\", \"format_version\": 1}".write(toFile: path, atomically: true, encoding: .utf8)
        expectLoadError(["schema.json", "missing key \"dims\""])
    }

    func testMissingDirectoryIsUsageError() {
        DataTestSupport.expectError(["no such data set directory"], kind: .usage) { _ = try Dataset(directory: dir + "/nope") }
    }

    func testShardsMustAgreeAndBatchesSpanShards() throws {
        try DataTestSupport.writeTinyDataset(dir)
        try SafeTensorsWriter.write(path: dir + "/train-2.safetensors", tensors: DataTestSupport.tinyTrainBlobs(requests: 3))
        var s = DataTestSupport.tinySchema()
        s.splits = [SplitEntry(name: "train", files: ["train.safetensors", "train-2.safetensors"])]
        try s.write(to: dir)
        let split = try Dataset(directory: dir).splits[0]
        XCTAssertEqual(split.count, 9)
        let b = try split.batch([7, 1])  // row 1 of shard 2, row 1 of shard 1: the same content
        XCTAssertEqual(Array(b.candidates[0..<4]), Array(b.candidates[4..<8]))
        XCTAssertThrowsError(try split.batch([9]))

        try SafeTensorsWriter.write(path: dir + "/train-2.safetensors",
                                    tensors: DataTestSupport.replacing(DataTestSupport.tinyTrainBlobs(requests: 3), "oracle", with: nil))
        expectLoadError(["train-2.safetensors", "'oracle'", "every shard"])
    }

    private func readInt32(_ blobs: [SafeTensorBlob], _ name: String) throws -> [Int32] {
        let b = try XCTUnwrap(blobs.first { $0.spec.name == name })
        return b.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
    }
}
