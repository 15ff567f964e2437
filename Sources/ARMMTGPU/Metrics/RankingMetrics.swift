import Foundation

/// How to read scores for log loss: raw logits (sigmoid applied) or probabilities.
public enum ScoreKind: String, Sendable, Codable {
    case logit, probability
}

/// NDCG at several cutoffs (ARMMT-SPEC §5).
public struct NDCGResult: Sendable, Codable, Equatable {
    public var cutoffs: [Int]
    /// Mean NDCG@cutoffs[i] over all non-empty lists.
    public var values: [Double]
    public var lists: Int
    /// Lists with no relevant item (all labels 0); each counted as `noRelevantValue`.
    public var listsWithoutRelevant: Int
    public var noRelevantValue: Double

    public func value(at k: Int) -> Double? { cutoffs.firstIndex(of: k).map { values[$0] } }
}

/// Every §5 metric for one target.
public struct TargetMetrics: Sendable, Codable, Equatable {
    public var target: String
    public var lists: Int
    public var candidates: Int
    /// Candidates with label > 0.
    public var positives: Int
    /// AUC over all valid candidates; nil when only one class is present.
    public var auc: Double?
    /// Per-list AUC weighted by the list's valid candidates; nil when no list has both classes.
    public var gauc: Double?
    public var gaucLists: Int
    /// Lists skipped by GAUC because they hold one class only.
    public var gaucSkipped: Int
    public var ndcg: NDCGResult
    /// Mean reciprocal rank of the first relevant item over lists that have one.
    public var mrr: Double?
    public var logLoss: Double
}

/// The evaluation metrics of ARMMT-SPEC §5, computed exactly (no sampling, no binning).
///
/// Conventions: a candidate is positive when its label is > 0 (AUC, GAUC, MRR, log loss);
/// NDCG uses the graded label with gain 2^rel − 1 and discount 1/log2(rank + 1); ranking sorts
/// by score descending and breaks ties by slot order (stable), so all-equal scores keep the
/// prior order.
public enum RankingMetrics {
    public static let defaultCutoffs = [1, 3, 5, 10]

    /// Exact AUC: P(score⁺ > score⁻) + ½ P(score⁺ = score⁻) over all positive/negative pairs
    /// (Mann–Whitney U with mid-ranks). nil when there are no positives or no negatives.
    public static func auc(scores: [Double], labels: [Double]) -> Double? {
        scores.withUnsafeBufferPointer { s in labels.withUnsafeBufferPointer { l in auc(s, l) } }
    }

    static func auc(_ s: UnsafeBufferPointer<Double>, _ l: UnsafeBufferPointer<Double>) -> Double? {
        let n = s.count
        var positives = 0
        for i in 0..<n where l[i] > 0 { positives += 1 }
        let negatives = n - positives
        if positives == 0 || negatives == 0 { return nil }
        var order = Array(0..<n)
        order.sort { s[$0] < s[$1] }
        var sum = 0.0, negativesBelow = 0.0
        var i = 0
        while i < n {
            var j = i
            var p = 0.0, q = 0.0
            while j < n && s[order[j]] == s[order[i]] {
                if l[order[j]] > 0 { p += 1 } else { q += 1 }
                j += 1
            }
            sum += p * negativesBelow + 0.5 * p * q
            negativesBelow += q
            i = j
        }
        return sum / (Double(positives) * Double(negatives))
    }

    /// Per-list AUC averaged with weights = valid candidates per list; lists with one class are
    /// skipped and counted.
    public static func gauc(_ lists: RankedLists) -> (value: Double?, lists: Int, skipped: Int) {
        var weighted = 0.0, weight = 0.0, used = 0, skipped = 0
        lists.scores.withUnsafeBufferPointer { s in
            lists.labels.withUnsafeBufferPointer { l in
                for i in 0..<lists.listCount {
                    let a = lists.offsets[i], b = lists.offsets[i + 1]
                    if b == a { continue }
                    let r = auc(UnsafeBufferPointer(rebasing: s[a..<b]), UnsafeBufferPointer(rebasing: l[a..<b]))
                    if let r {
                        weighted += r * Double(b - a)
                        weight += Double(b - a)
                        used += 1
                    } else {
                        skipped += 1
                    }
                }
            }
        }
        return (weight > 0 ? weighted / weight : nil, used, skipped)
    }

    /// Ranking of list `a ..< b`: positions sorted by score descending, ties in slot order.
    @inline(__always)
    static func ranking(_ s: [Double], _ a: Int, _ b: Int) -> [Int] {
        Array(a..<b).sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }
    }

    /// Mean NDCG@k over non-empty lists; a list without a relevant item counts `noRelevantValue`
    /// (1 by default, as LightGBM) and is reported.
    public static func ndcg(_ lists: RankedLists, cutoffs: [Int] = defaultCutoffs, noRelevantValue: Double = 1) -> NDCGResult {
        var sums = [Double](repeating: 0, count: cutoffs.count)
        var count = 0, empty = 0
        let maxK = cutoffs.max() ?? 0
        var discount = [Double](repeating: 0, count: maxK + 1)
        for r in 0..<maxK { discount[r] = 1 / log2(Double(r) + 2) }
        for i in 0..<lists.listCount {
            let a = lists.offsets[i], b = lists.offsets[i + 1]
            if a == b { continue }
            count += 1
            let ideal = lists.labels[a..<b].sorted(by: >)
            if ideal[0] <= 0 {
                empty += 1
                for c in cutoffs.indices { sums[c] += noRelevantValue }
                continue
            }
            let order = ranking(lists.scores, a, b)
            for (c, k) in cutoffs.enumerated() {
                var dcg = 0.0, idcg = 0.0
                for r in 0..<min(k, b - a) {
                    dcg += (pow(2, lists.labels[order[r]]) - 1) * discount[r]
                    idcg += (pow(2, ideal[r]) - 1) * discount[r]
                }
                sums[c] += dcg / idcg
            }
        }
        return NDCGResult(cutoffs: cutoffs, values: sums.map { count > 0 ? $0 / Double(count) : 0 },
                          lists: count, listsWithoutRelevant: empty, noRelevantValue: noRelevantValue)
    }

    /// Mean reciprocal rank of the first item with label > 0; lists without one are left out.
    public static func mrr(_ lists: RankedLists) -> (value: Double?, lists: Int) {
        var sum = 0.0, used = 0
        for i in 0..<lists.listCount {
            let a = lists.offsets[i], b = lists.offsets[i + 1]
            if !lists.labels[a..<b].contains(where: { $0 > 0 }) { continue }
            let order = ranking(lists.scores, a, b)
            let rank = order.firstIndex { lists.labels[$0] > 0 }!
            sum += 1 / Double(rank + 1)
            used += 1
        }
        return (used > 0 ? sum / Double(used) : nil, used)
    }

    /// Mean binary cross-entropy with y = (label > 0). Logits use the stable form
    /// max(x, 0) − x·y + log(1 + e^−|x|); probabilities are clamped to [1e-15, 1 − 1e-15].
    public static func logLoss(scores: [Double], labels: [Double], kind: ScoreKind) -> Double {
        if scores.isEmpty { return 0 }
        var sum = 0.0
        for i in scores.indices {
            let y = labels[i] > 0 ? 1.0 : 0.0
            switch kind {
            case .logit:
                let x = scores[i]
                sum += max(x, 0) - x * y + log1p(exp(-abs(x)))
            case .probability:
                let p = min(max(scores[i], 1e-15), 1 - 1e-15)
                sum -= y * log(p) + (1 - y) * log(1 - p)
            }
        }
        return sum / Double(scores.count)
    }

    /// All metrics for one target. Throws when a score is NaN or infinite (a ranking of NaN
    /// has no meaning) or a label is negative.
    public static func evaluate(_ lists: RankedLists, target: String, kind: ScoreKind,
                                cutoffs: [Int] = defaultCutoffs, noRelevantValue: Double = 1) throws -> TargetMetrics {
        for i in 0..<lists.listCount {
            for e in lists.offsets[i]..<lists.offsets[i + 1] {
                if !lists.scores[e].isFinite {
                    throw EngineError.runtime("metrics for '\(target)': list \(i) has score \(lists.scores[e])")
                }
                if !(lists.labels[e] >= 0) {
                    throw EngineError.runtime("metrics for '\(target)': list \(i) has label \(lists.labels[e])")
                }
            }
        }
        let g = gauc(lists)
        let m = mrr(lists)
        return TargetMetrics(
            target: target, lists: (0..<lists.listCount).filter { lists.offsets[$0] < lists.offsets[$0 + 1] }.count,
            candidates: lists.candidateCount, positives: lists.labels.filter { $0 > 0 }.count,
            auc: auc(scores: lists.scores, labels: lists.labels), gauc: g.value, gaucLists: g.lists, gaucSkipped: g.skipped,
            ndcg: ndcg(lists, cutoffs: cutoffs, noRelevantValue: noRelevantValue), mrr: m.value,
            logLoss: logLoss(scores: lists.scores, labels: lists.labels, kind: kind))
    }
}

/// Collects a model's outputs batch by batch and reports every target's metrics at the end.
public final class MetricsAccumulator {
    public let targets: [String]
    public let kMax: Int
    public private(set) var lists: [RankedLists]

    public init(targets: [String], kMax: Int) {
        self.targets = targets
        self.kMax = kMax
        lists = Array(repeating: RankedLists(), count: targets.count)
    }

    /// `scores` and `labels` `[B, K_max, T]`, `mask` `[B, K_max]` (a `Batch`'s layout).
    public func add(scores: [Float], labels: [Float], mask: [Float], batchSize: Int) {
        for t in targets.indices {
            lists[t].append(scores: scores, labels: labels, mask: mask, batchSize: batchSize, kMax: kMax,
                            targets: targets.count, target: t)
        }
    }

    public func report(kind: ScoreKind, cutoffs: [Int] = RankingMetrics.defaultCutoffs,
                       noRelevantValue: Double = 1) throws -> [TargetMetrics] {
        try targets.indices.map {
            try RankingMetrics.evaluate(lists[$0], target: targets[$0], kind: kind, cutoffs: cutoffs, noRelevantValue: noRelevantValue)
        }
    }
}
