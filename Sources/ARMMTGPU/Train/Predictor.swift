import Foundation

/// Writes a model's scores for a split as CSV.
///
/// One row per valid candidate, in input order (requests in split order, candidates in slot
/// order): `request` (the split's row index) or `request_id` (when the split stores ids),
/// `position` (the 0-based slot), then one column per target holding the main head's logit
/// (higher ranks first; σ(logit) is the predicted probability for BCE-trained models). With
/// `explain`, the CAFU weights follow: `item_alpha_<modality>` and `personal_alpha_<modality>`
/// for each unit the model has.
public enum Predictor {
    /// Returns the number of rows written. The file appears atomically when complete.
    @discardableResult
    public static func writeCSV(model: TrainableModel, split: DatasetSplit, items: ItemTable, batchSize: Int,
                                to path: String, explain: Bool = false) throws -> Int {
        guard batchSize >= 1 else { throw EngineError.usage("predict: batch size \(batchSize) must be >= 1") }
        let targets = split.schema.targets, t = targets.count, k = split.schema.dims.kMax
        let writer: AtomicFileWriter
        do {
            writer = try AtomicFileWriter(path: path)
        } catch let e as EngineError {
            throw EngineError.usage(e.message)
        }
        var rows = 0
        var header: [String]? = nil
        var batch = split.emptyBatch()
        var start = 0
        do {
            while start < split.count {
                let end = min(split.count, start + batchSize)
                try split.fill(&batch, requests: Array(start..<end))
                let p = try model.predict(batch, items: items)
                let m = p.modalityNames.count
                let itemAlpha = explain && m > 0 ? p.itemAlpha : nil
                let personalAlpha = explain && m > 0 ? p.personalAlpha : nil
                if header == nil {
                    var h = [split.hasRequestIDs ? "request_id" : "request", "position"] + targets
                    if itemAlpha != nil { h += p.modalityNames.map { "item_alpha_\($0)" } }
                    if personalAlpha != nil { h += p.modalityNames.map { "personal_alpha_\($0)" } }
                    header = h
                    try writer.write(Array((h.joined(separator: ",") + "\n").utf8))
                }
                var text = ""
                for b in 0..<batch.size {
                    let request = batch.requestIDs.map { String($0[b]) } ?? String(batch.requests[b])
                    for j in 0..<k where batch.candidateMask[b * k + j] > 0 {
                        var fields = [request, String(j)]
                        for q in 0..<t { fields.append(String(p.logits[(b * k + j) * t + q])) }
                        for a in [itemAlpha, personalAlpha] {
                            guard let a else { continue }
                            for q in 0..<m { fields.append(String(a[(b * k + j) * m + q])) }
                        }
                        text += fields.joined(separator: ",") + "\n"
                        rows += 1
                    }
                }
                try writer.write(Array(text.utf8))
                start = end
            }
            try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
        return rows
    }
}
