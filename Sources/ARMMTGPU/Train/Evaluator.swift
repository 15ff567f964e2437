import Foundation

/// Metrics of a model (and of the stored oracle, when the split has one) on one split.
public struct EvaluationResult: Sendable {
    public var split: String
    public var requests: Int
    /// Per target, from the model's logits.
    public var metrics: [TargetMetrics]
    /// Per target, from the split's true probabilities: the ceiling no model can pass.
    public var oracle: [TargetMetrics]?

    public func metrics(for target: String) -> TargetMetrics? { metrics.first { $0.target == target } }

    /// One flat object per target: `auc`, `gauc`, `ndcg@k`, `mrr`, `loss`, counts (nulls kept).
    public static func summary(_ m: TargetMetrics) -> [String: Any] {
        func num(_ x: Double?) -> Any { x.map { $0 as Any } ?? NSNull() }
        var o: [String: Any] = [
            "auc": num(m.auc), "gauc": num(m.gauc), "mrr": num(m.mrr), "loss": m.logLoss,
            "lists": m.lists, "candidates": m.candidates, "positives": m.positives,
            "gauc_skipped_lists": m.gaucSkipped, "lists_without_relevant": m.ndcg.listsWithoutRelevant,
        ]
        for (k, v) in zip(m.ndcg.cutoffs, m.ndcg.values) { o["ndcg@\(k)"] = v }
        return o
    }

    public func jsonObject() -> [String: Any] {
        var o: [String: Any] = ["split": split, "requests": requests,
                                "targets": Dictionary(uniqueKeysWithValues: metrics.map { ($0.target, Self.summary($0)) })]
        if let oracle { o["oracle"] = Dictionary(uniqueKeysWithValues: oracle.map { ($0.target, Self.summary($0)) }) }
        return o
    }

    /// A fixed-width table: one row per target (and per target for the oracle).
    public func text() -> String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "   -  " }
        let cut = metrics.first?.ndcg.cutoffs ?? RankingMetrics.defaultCutoffs
        var lines = ["split \(split): \(requests) requests"]
        let name = max(12, (metrics.map(\.target.count).max() ?? 0) + 9)
        func pad(_ s: String) -> String { s.padding(toLength: name, withPad: " ", startingAt: 0) }
        lines.append(pad("target") + " auc     gauc    " + cut.map { "ndcg@\($0)".padding(toLength: 8, withPad: " ", startingAt: 0) }.joined() + "mrr     logloss")
        func row(_ label: String, _ m: TargetMetrics) -> String {
            pad(label) + " " + [f(m.auc), f(m.gauc)].joined(separator: "  ") + "  "
                + m.ndcg.values.map { f($0) + "  " }.joined() + f(m.mrr) + "  " + f(m.logLoss)
        }
        for m in metrics { lines.append(row(m.target, m)) }
        for m in oracle ?? [] { lines.append(row("\(m.target) oracle", m)) }
        for m in metrics where m.ndcg.listsWithoutRelevant > 0 {
            lines.append("(\(m.ndcg.listsWithoutRelevant) of \(m.ndcg.lists) lists have no relevant '\(m.target)' item; NDCG counts them as \(m.ndcg.noRelevantValue))")
        }
        return lines.joined(separator: "\n")
    }
}

/// Runs a model over a split in request order and computes ARMMT-SPEC §5 metrics.
public enum Evaluator {
    public static func evaluate(model: TrainableModel, split: DatasetSplit, items: ItemTable, batchSize: Int) throws -> EvaluationResult {
        guard batchSize >= 1 else { throw EngineError.usage("evaluate: batch size \(batchSize) must be >= 1") }
        let targets = split.schema.targets, k = split.schema.dims.kMax
        let acc = MetricsAccumulator(targets: targets, kMax: k)
        let oracle = split.hasOracle ? MetricsAccumulator(targets: targets, kMax: k) : nil
        var batch = split.emptyBatch()
        var start = 0
        while start < split.count {
            let end = min(split.count, start + batchSize)
            try split.fill(&batch, requests: Array(start..<end))
            let p = try model.predict(batch, items: items)
            acc.add(scores: p.logits, labels: batch.labels, mask: batch.candidateMask, batchSize: batch.size)
            if let oracle, let o = batch.oracle {
                oracle.add(scores: o, labels: batch.labels, mask: batch.candidateMask, batchSize: batch.size)
            }
            start = end
        }
        return EvaluationResult(split: split.name, requests: split.count, metrics: try acc.report(kind: .logit),
                                oracle: try oracle?.report(kind: .probability))
    }
}
