import ARMMTGPU
import Foundation
import XCTest

/// `data synth`: deterministic bytes, shard-size independence, labels drawn from the stored
/// true probabilities, and signals of the intended strength.
final class DataSynthTests: XCTestCase {
    private func smallConfig(seed: UInt64 = 7) -> SynthConfig {
        var c = SynthConfig()
        c.trainRequests = 400
        c.validRequests = 100
        c.testRequests = 100
        c.items = 500
        c.categories = 6
        c.kMax = 8
        c.lMax = 10
        c.textDim = 16
        c.imageDim = 24
        c.queryDim = 8
        c.seed = seed
        return c
    }

    private func files(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) {
            out[f] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f))
        }
        return out
    }

    func testSameSeedSameBytesAndShardingDoesNotChangeRequests() throws {
        let a = try DataTestSupport.temporaryDirectory("synthA"), b = try DataTestSupport.temporaryDirectory("synthB")
        let c = try DataTestSupport.temporaryDirectory("synthC"), d = try DataTestSupport.temporaryDirectory("synthD")
        defer { for x in [a, b, c, d] { try? FileManager.default.removeItem(atPath: x) } }
        try SynthGenerator.generate(smallConfig(), into: a)
        try SynthGenerator.generate(smallConfig(), into: b)
        let fa = try files(a), fb = try files(b)
        XCTAssertEqual(Set(fa.keys), ["schema.json", "items.safetensors", "train-00000.safetensors", "valid-00000.safetensors", "test-00000.safetensors"])
        XCTAssertEqual(fa, fb, "same seed must give the same bytes")

        try SynthGenerator.generate(smallConfig(seed: 8), into: c)
        XCTAssertNotEqual(try files(c)["train-00000.safetensors"], fa["train-00000.safetensors"])

        var sharded = smallConfig()
        sharded.shardRequests = 150
        try SynthGenerator.generate(sharded, into: d)
        let one = try Dataset(directory: a), many = try Dataset(directory: d)
        XCTAssertEqual(many.schema.splits[0].files.count, 3)
        XCTAssertEqual(try files(d)["items.safetensors"], fa["items.safetensors"])
        let all = Array(0..<400)
        let x = try one.split("train").batch(all), y = try many.split("train").batch(all)
        XCTAssertEqual(x.candidates, y.candidates)
        XCTAssertEqual(x.labels, y.labels)
        XCTAssertEqual(x.oracle, y.oracle)
        XCTAssertEqual(x.query, y.query)
        XCTAssertEqual(y.requestIDs, (0..<400).map(Int64.init))
    }

    /// The oracle probe draws the requests again in memory: its terms must rebuild exactly the
    /// written test split (same candidates in the same order, σ(η) = the stored oracle, same
    /// labels), and its oracle row must equal the AUC of the stored probabilities.
    func testOracleProbeRegeneratesTheWrittenTestSplit() throws {
        let dir = try DataTestSupport.temporaryDirectory("synthProbe")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = smallConfig()
        try SynthGenerator.generate(c, into: dir)
        let (rows, taste) = try SynthOracleProbe.run(c, termsCSV: dir + "/terms.csv")
        XCTAssertTrue(SynthOracleProbe.kappas.contains(taste.kappa) && SynthOracleProbe.n0s.contains(taste.n0))
        XCTAssertEqual(rows.count, 10)

        let split = try Dataset(directory: dir).split("test")
        let b = try split.batch(Array(0..<split.count))
        let oracle = try XCTUnwrap(b.oracle), ids = try XCTUnwrap(b.requestIDs)
        let lines = try String(contentsOfFile: dir + "/terms.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        var scores: [Double] = [], labels: [Double] = []
        var line = lines.startIndex
        for r in 0..<b.size {
            for p in 0..<b.kMax where b.candidateMask[r * b.kMax + p] > 0 {
                let f = lines[line].split(separator: ",").map { Double($0)! }
                line += 1
                XCTAssertEqual(Int64(f[0]), ids[r])
                XCTAssertEqual(Int(f[1]), p)
                let eta = Double(SynthLogitTerms.bias) + f[2...7].reduce(0, +)
                XCTAssertEqual(1 / (1 + exp(-eta)), Double(oracle[(r * b.kMax + p) * 2 + 1]), accuracy: 1e-5)
                XCTAssertEqual(f[10], Double(b.labels[(r * b.kMax + p) * 2 + 1]))
                scores.append(Double(oracle[(r * b.kMax + p) * 2 + 1]))
                labels.append(f[10])
            }
        }
        XCTAssertEqual(line, lines.endIndex, "one terms row per valid test candidate")
        XCTAssertEqual(rows[0].auc, try XCTUnwrap(RankingMetrics.auc(scores: scores, labels: labels)), accuracy: 1e-3)
    }

    func testLabelsFollowOracleAndSignalsHaveIntendedStrength() throws {
        let dir = try DataTestSupport.temporaryDirectory("synthStats")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = smallConfig()
        c.trainRequests = 1500
        c.items = 2000
        c.kMax = 16
        try SynthGenerator.generate(c, into: dir)
        let ds = try Dataset(directory: dir)
        let split = try ds.split("train")
        let b = try split.batch(Array(0..<split.count))
        let o = try XCTUnwrap(b.oracle)
        var valid = 0, empty = 0, behaviours = 0.0
        var labelSum = [0.0, 0.0], probSum = [0.0, 0.0], varSum = [0.0, 0.0]
        var prior = RankedLists(), truth = RankedLists()
        for r in 0..<b.size {
            var s: [Float] = [], t: [Float] = [], y: [Float] = []
            for j in 0..<c.kMax where b.candidateMask[r * c.kMax + j] != 0 {
                valid += 1
                for q in 0..<2 {
                    let p = Double(o[(r * c.kMax + j) * 2 + q])
                    XCTAssertTrue(p > 0 && p < 1)
                    labelSum[q] += Double(b.labels[(r * c.kMax + j) * 2 + q])
                    probSum[q] += p
                    varSum[q] += p * (1 - p)
                }
                // Purchases are a subset of clicks.
                XCTAssertLessThanOrEqual(b.labels[(r * c.kMax + j) * 2 + 1], b.labels[(r * c.kMax + j) * 2])
                s.append(b.listFeatures[(r * c.kMax + j) * 2 + 1])
                t.append(o[(r * c.kMax + j) * 2 + 1])
                y.append(b.labels[(r * c.kMax + j) * 2 + 1])
            }
            prior.append(scores: s, labels: y)
            truth.append(scores: t, labels: y)
            let nb = (0..<c.lMax).filter { b.behaviourMask[r * c.lMax + $0] != 0 }.count
            if nb == 0 { empty += 1 }
            behaviours += Double(nb)
        }
        // Labels are Bernoulli draws from the oracle: sums agree within 4 standard deviations.
        for q in 0..<2 { XCTAssertEqual(labelSum[q], probSum[q], accuracy: 4 * varSum[q].squareRoot()) }
        let purchaseRate = labelSum[1] / Double(valid)
        XCTAssertTrue(purchaseRate > 0.02 && purchaseRate < 0.15, "purchase rate \(purchaseRate)")
        XCTAssertTrue(empty > 0 && empty < b.size / 4, "requests without behaviours: \(empty)")
        // The prior score is a moderate signal; the truth is clearly better.
        let aucPrior = try XCTUnwrap(RankingMetrics.auc(scores: prior.scores, labels: prior.labels))
        let aucTruth = try XCTUnwrap(RankingMetrics.auc(scores: truth.scores, labels: truth.labels))
        XCTAssertTrue(aucPrior > 0.55 && aucPrior < aucTruth - 0.05, "prior AUC \(aucPrior), oracle AUC \(aucTruth)")

        // Item vectors are unit vectors (zeros when the modality is missing), half-precision on disk.
        let all = (0..<Int32(c.items)).map { $0 }
        let img = ds.items.gatherImage(all)
        for i in 0..<c.items {
            let n = (0..<c.imageDim).reduce(Float(0)) { $0 + img[i * c.imageDim + $1] * img[i * c.imageDim + $1] }
            XCTAssertEqual(n, ds.items.hasImage[i] == 0 ? 0 : 1, accuracy: 0.01)
        }
    }

    func testBadConfigIsUsageError() {
        var c = smallConfig()
        c.kMax = 1
        DataTestSupport.expectError(["--k-max"], kind: .usage) { try SynthGenerator.generate(c, into: "/tmp/never-written") }
    }
}
