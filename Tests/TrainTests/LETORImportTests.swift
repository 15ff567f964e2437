import ARMMTGPU
import Foundation
import XCTest

/// LETOR import: the shared LightGBM data round-trips (every document, label, group and
/// feature), the metrics on it match LightGBM's README, and the long-list and qid rules hold.
final class LETORImportTests: XCTestCase {
    private func letorDirectory() throws -> String {
        let env = ProcessInfo.processInfo.environment["ARMMT_LETOR_DIR"]
        let candidates = [env, "/work/shared/data/lightgbm-lambdarank",
                          DataTestSupport.repositoryRoot + "/../shared/data/lightgbm-lambdarank"].compactMap { $0 }
        guard let d = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/rank.train") }) else {
            throw XCTSkip("LightGBM lambdarank data not found (set ARMMT_LETOR_DIR)")
        }
        return d
    }

    /// Independent parse: label and {index: value} per line, group sizes.
    private func reference(_ path: String) throws -> (labels: [Float], features: [[Int: Float]]) {
        var labels: [Float] = [], features: [[Int: Float]] = []
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let t = line.split(separator: " ")
            labels.append(Float(t[0])!)
            var f: [Int: Float] = [:]
            for kv in t.dropFirst() {
                let p = kv.split(separator: ":")
                f[Int(p[0])!] = Float(p[1])!
            }
            features.append(f)
        }
        return (labels, features)
    }

    private func groups(_ path: String) throws -> [Int] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { Int($0)! }
    }

    func testLightGBMDataRoundTrips() throws {
        let src = try letorDirectory()
        let out = try DataTestSupport.temporaryDirectory("letor")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let report = try LETORImporter.importFiles(
            train: [.init(path: src + "/rank.train", queryPath: src + "/rank.train.query")],
            test: [.init(path: src + "/rank.test", queryPath: src + "/rank.test.query")], into: out)
        XCTAssertEqual(report.kMax, 27)
        let ds = try Dataset(directory: out)
        let norm = try XCTUnwrap(ds.schema.listFeatureNormalization)
        let f = ds.schema.listFeatures.count
        XCTAssertEqual(ds.schema.dims.text, 0)
        XCTAssertEqual(ds.schema.items, 3005 + 768)
        var item = 0
        var trainSums = [Double](repeating: 0, count: f)
        for (name, file) in [("train", "rank.train"), ("test", "rank.test")] {
            let ref = try reference(src + "/" + file)
            let g = try groups(src + "/" + file + ".query")
            let split = try ds.split(name)
            XCTAssertEqual(split.count, g.count)
            let b = try split.batch(Array(0..<split.count))
            var doc = 0
            for (r, size) in g.enumerated() {
                XCTAssertEqual(b.candidateMask[r * 27 ..< (r + 1) * 27].filter { $0 != 0 }.count, size, "group \(r)")
                for j in 0..<size {
                    XCTAssertEqual(Int(b.candidates[r * 27 + j]), item + doc, "document identity")
                    XCTAssertEqual(b.labels[r * 27 + j], ref.labels[doc])
                    for q in 0..<f {
                        let stored = Double(b.listFeatures[(r * 27 + j) * f + q])
                        if name == "train" { trainSums[q] += stored }
                        let original = Double(ref.features[doc][q] ?? 0)
                        XCTAssertEqual(stored * norm.std[q] + norm.mean[q], original, accuracy: 1e-5 * max(1, abs(original)))
                    }
                    doc += 1
                }
            }
            XCTAssertEqual(doc, ref.labels.count, "every document imported")
            item += doc
            // All-equal scores on rank.test: LightGBM's README numbers.
            if name == "test" {
                let acc = MetricsAccumulator(targets: ["relevance"], kMax: 27)
                acc.add(scores: [Float](repeating: 0, count: b.size * 27), labels: b.labels, mask: b.candidateMask, batchSize: b.size)
                let m = try acc.report(kind: .logit)[0]
                XCTAssertEqual(m.ndcg.value(at: 5)!, 0.4783, accuracy: 5e-5)
                XCTAssertEqual(m.ndcg.value(at: 10)!, 0.5736, accuracy: 5e-5)
            }
        }
        // Normalisation statistics come from the training split: its features have mean 0.
        for q in 0..<f { XCTAssertEqual(trainSums[q] / 3005, 0, accuracy: 1e-4) }
    }

    func testLongListsAreSplitIntoChunksAndNothingIsDropped() throws {
        let src = try letorDirectory()
        let out = try DataTestSupport.temporaryDirectory("letorK")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let report = try LETORImporter.importFiles(
            train: [.init(path: src + "/rank.test", queryPath: src + "/rank.test.query")], kMax: 10, into: out)
        let g = try groups(src + "/rank.test.query")
        XCTAssertEqual(report.splits[0].requests, g.map { ($0 + 9) / 10 }.reduce(0, +))
        XCTAssertEqual(report.splits[0].groupsSplit, g.filter { $0 > 10 }.count)
        let split = try Dataset(directory: out).split("train")
        let b = try split.batch(Array(0..<split.count))
        let docs = b.candidates.filter { $0 >= 0 }
        XCTAssertEqual(docs, (0..<Int32(768)).map { $0 }, "every document once, in file order")
        // Chunks of one group share its request id.
        var perID: [Int64: Int] = [:]
        for (r, id) in b.requestIDs!.enumerated() { perID[id, default: 0] += b.candidateMask[r * 10 ..< (r + 1) * 10].filter { $0 != 0 }.count }
        XCTAssertEqual((0..<g.count).map { perID[Int64($0)]! }, g)
    }

    func testQidGroupsCommentsAndErrors() throws {
        let dir = try DataTestSupport.temporaryDirectory("letorQid")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = dir + "/train.txt"
        try """
        2 qid:1 1:0.5 3:1.0 # doc a
        0 qid:1 2:2.0
        1 qid:7 1:1.5

        0 qid:7 3:-1 # doc d
        4 qid:9 0:1
        """.write(toFile: train, atomically: true, encoding: .utf8)
        let out = dir + "/ds"
        let report = try LETORImporter.importFiles(train: [.init(path: train)], into: out)
        XCTAssertEqual(report.features, 4)
        XCTAssertEqual(report.splits[0].groups, 3)
        let b = try Dataset(directory: out).split("train").batch([0, 1, 2])
        XCTAssertEqual(b.candidates, [0, 1, 2, 3, 4, -1])
        XCTAssertEqual(b.labels, [2, 0, 1, 0, 4, 0])

        try "1 qid:1 1:0.5\nx qid:1 2:1\n".write(toFile: train, atomically: true, encoding: .utf8)
        DataTestSupport.expectError(["train.txt", "line 2", "label 'x'"]) { try LETORImporter.importFiles(train: [.init(path: train)], into: out) }
        try "1 qid:1 1:0.5 3:nan\n".write(toFile: train, atomically: true, encoding: .utf8)
        DataTestSupport.expectError(["train.txt", "line 1", "feature 3"]) { try LETORImporter.importFiles(train: [.init(path: train)], into: out) }
        try "1 1:0.5\n".write(toFile: train, atomically: true, encoding: .utf8)
        DataTestSupport.expectError(["train.txt", "no qid"]) { try LETORImporter.importFiles(train: [.init(path: train)], into: out) }
        try "3\n".write(toFile: dir + "/q", atomically: true, encoding: .utf8)
        DataTestSupport.expectError(["add up to 3", "1 documents"]) { try LETORImporter.importFiles(train: [.init(path: train, queryPath: dir + "/q")], into: out) }
    }
}
