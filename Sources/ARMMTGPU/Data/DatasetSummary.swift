import Foundation

/// Counts and rates of one split (`armmt-gpu data check --json`).
public struct SplitSummary: Codable, Sendable {
    public var name: String
    public var files: [String]
    public var requests: Int
    /// Valid candidates over all requests.
    public var candidates: Int
    public var meanListLength: Double
    public var meanBehaviours: Double
    public var requestsWithoutBehaviours: Int
    /// Per target: fraction of valid candidates with label > 0.
    public var labelRates: [String: Double]
    /// Per target: mean label over valid candidates (differs from the rate for graded labels).
    public var labelMeans: [String: Double]
    /// Per target: requests whose list has no candidate with label > 0.
    public var listsWithoutPositive: [String: Int]
    /// Metrics of the stored true probabilities (the ceiling no model can pass), when present.
    public var oracle: [TargetMetrics]?
}

/// What `armmt-gpu data check` reports about a valid data set.
public struct DatasetSummary: Codable, Sendable {
    public var directory: String
    public var formatVersion: Int
    public var items: Int
    public var dims: DatasetDims
    public var itemCategorical: [CategoricalField]
    public var itemDense: [String]
    public var userFeatures: [CategoricalField]
    public var listFeatures: [String]
    public var targets: [String]
    public var mainTarget: String
    public var itemsWithoutText: Int
    public var itemsWithoutImage: Int
    public var splits: [SplitSummary]

    /// Walks every request of every split (batch by batch, nothing held beyond metric inputs).
    public init(_ ds: Dataset) throws {
        let s = ds.schema
        directory = ds.directory
        formatVersion = s.formatVersion
        items = s.items
        dims = s.dims
        itemCategorical = s.itemCategorical
        itemDense = s.itemDense
        userFeatures = s.userFeatures
        listFeatures = s.listFeatures
        targets = s.targets
        mainTarget = s.mainTarget
        itemsWithoutText = s.dims.text > 0 ? ds.items.hasText.filter { $0 == 0 }.count : s.items
        itemsWithoutImage = s.dims.image > 0 ? ds.items.hasImage.filter { $0 == 0 }.count : s.items
        let k = s.dims.kMax, l = s.dims.lMax, t = s.targets.count
        splits = try ds.splits.map { split in
            var batch = split.emptyBatch()
            var candidates = 0, behaviours = 0, noBehaviour = 0
            var positives = [Int](repeating: 0, count: t), sums = [Double](repeating: 0, count: t)
            var noPositive = [Int](repeating: 0, count: t)
            let oracle = split.hasOracle ? MetricsAccumulator(targets: s.targets, kMax: k) : nil
            var start = 0
            while start < split.count {
                let requests = Array(start..<min(split.count, start + 4096))
                try split.fill(&batch, requests: requests)
                for b in 0..<batch.size {
                    var has = [Bool](repeating: false, count: t)
                    for j in 0..<k where batch.candidateMask[b * k + j] != 0 {
                        candidates += 1
                        for q in 0..<t {
                            let y = batch.labels[(b * k + j) * t + q]
                            sums[q] += Double(y)
                            if y > 0 { positives[q] += 1; has[q] = true }
                        }
                    }
                    for q in 0..<t where !has[q] { noPositive[q] += 1 }
                    var nb = 0
                    for j in 0..<l where batch.behaviourMask[b * l + j] != 0 { nb += 1 }
                    behaviours += nb
                    if nb == 0 && l > 0 { noBehaviour += 1 }
                }
                if let oracle, let o = batch.oracle {
                    oracle.add(scores: o, labels: batch.labels, mask: batch.candidateMask, batchSize: batch.size)
                }
                start += requests.count
            }
            let c = Double(max(1, candidates))
            return SplitSummary(
                name: split.name, files: s.splits.first { $0.name == split.name }!.files, requests: split.count,
                candidates: candidates, meanListLength: Double(candidates) / Double(split.count),
                meanBehaviours: Double(behaviours) / Double(split.count), requestsWithoutBehaviours: noBehaviour,
                labelRates: Dictionary(uniqueKeysWithValues: s.targets.enumerated().map { ($1, Double(positives[$0]) / c) }),
                labelMeans: Dictionary(uniqueKeysWithValues: s.targets.enumerated().map { ($1, sums[$0] / c) }),
                listsWithoutPositive: Dictionary(uniqueKeysWithValues: s.targets.enumerated().map { ($1, noPositive[$0]) }),
                oracle: try oracle?.report(kind: .probability))
        }
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A few human-readable lines.
    public func text() -> String {
        var lines = ["\(directory): valid (format \(formatVersion)); \(items) items, text \(dims.text), image \(dims.image), query \(dims.query), K_max \(dims.kMax), L_max \(dims.lMax); targets \(targets.joined(separator: ",")) (main \(mainTarget))"]
        for s in splits {
            let rates = targets.map { String(format: "%@ %.2f%%", $0, 100 * (s.labelRates[$0] ?? 0)) }.joined(separator: ", ")
            lines.append(String(format: "  %@: %d requests in %d file(s), %.1f candidates/list, %.1f behaviours/request; positives: %@",
                                s.name, s.requests, s.files.count, s.meanListLength, s.meanBehaviours, rates))
            for m in s.oracle ?? [] {
                lines.append(String(format: "    oracle %@: AUC %.4f  GAUC %.4f  NDCG@5 %.4f  NDCG@10 %.4f  (%d lists without a positive)",
                                    m.target, m.auc ?? .nan, m.gauc ?? .nan, m.ndcg.value(at: 5) ?? .nan, m.ndcg.value(at: 10) ?? .nan,
                                    m.ndcg.listsWithoutRelevant))
            }
        }
        return lines.joined(separator: "\n")
    }
}
