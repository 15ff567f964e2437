/// Loss family (ARMMT-SPEC §3): masked binary cross-entropy with logits per target, and the
/// list-wise softmax cross-entropy. Each op writes per-target losses and the gradient of the
/// weighted total `Σ_t w_t L_t` with respect to the logits, in one call.
///
/// Masks are float32 (`> 0` = valid). Labels are float32 and may be graded; `labelColumn`
/// selects which of their `L` columns feed the `T` targets (label column `labelColumn + t`
/// for target `t`), so an auxiliary head with one logit can be trained on the main target's
/// column of the batch's label matrix. Reductions run in a fixed order on every backend (no
/// atomics): the same inputs give bit-identical results on one device.
public protocol LossOps {
    /// Masked mean binary cross-entropy with logits, per target.
    ///
    /// Shapes (`R` = `rowMask.count` candidate rows, `T` = `weights.count` targets): `logits`
    /// `[R, T]`, `labels` `[R, L]` with `labelColumn + T ≤ L`, `rowMask` `[R]`, `weights` `[T]`,
    /// `losses` `[T]`, `dLogits` `[R, T]` (any shapes with these element counts; row-major).
    ///
    /// With `y = labels[r, labelColumn + t] > 0 ? 1 : 0`, valid rows `V = {r : rowMask[r] > 0}`:
    /// - `losses[t] = (1/|V|) Σ_{r∈V} max(x,0) − x·y + log1p(exp(−|x|))`, `x = logits[r, t]`;
    /// - `dLogits[r, t] = w_t · (σ(x) − y) / |V|` for `r ∈ V`, 0 otherwise.
    /// No valid row: losses and gradients are 0.
    func bceWithLogits(logits: Tensor, labels: Tensor, labelColumn: Int, rowMask: Tensor, weights: Tensor,
                       losses: Tensor, dLogits: Tensor) throws

    /// List-wise softmax cross-entropy, per target.
    ///
    /// Shapes (`[B, K]` = `mask.shape`: `B` lists of `K` slots; `T` = `weights.count`):
    /// `logits` `[B, K, T]`, `labels` `[B, K, L]` with `labelColumn + T ≤ L`, `mask` `[B, K]`,
    /// `weights` `[T]`, `losses` `[T]` float32, `skipped` `[T]` int32, `dLogits` `[B, K, T]`
    /// (any shapes with these element counts, so `[B, K]` logits serve `T = 1`).
    ///
    /// For list `b` and target `t`, over its valid slots `k` (`mask[b, k] > 0`): gain
    /// `g_k = 2^rel − 1` for `rel = labels[b, k, labelColumn + t] > 0`, else 0; a list with
    /// `Σ g = 0` (no positive, or no valid slot) is skipped. Otherwise `p_k = g_k / Σ g`,
    /// `s_k = softmax over the valid slots of logits[b, ·, t]` and the list's loss is
    /// `−Σ_k p_k log s_k`. With `N_t` lists not skipped:
    /// - `losses[t]` = mean over those lists (0 when `N_t = 0`), `skipped[t] = B − N_t`;
    /// - `dLogits[b, k, t] = w_t · (s_k − p_k) / N_t` on valid slots of kept lists, 0 elsewhere.
    func listwiseSoftmaxCrossEntropy(logits: Tensor, labels: Tensor, labelColumn: Int, mask: Tensor,
                                     weights: Tensor, losses: Tensor, skipped: Tensor, dLogits: Tensor) throws
}

/// Shape validation shared by both backends' loss ops.
enum LossValidation {
    struct Sizes {
        /// Rows (`R`) for BCE; `B · K` for list-wise.
        var rows: Int
        var targets: Int
        var labelWidth: Int
        /// `K` for list-wise; 1 for BCE.
        var listLength: Int
    }

    /// `rowDims` is `[R]` for BCE and `[B, K]` for list-wise; messages show the full shapes.
    static func sizes(op: String, rowDims: [Int], logits: Tensor, labels: Tensor, labelColumn: Int,
                      weights: Tensor, losses: Tensor, dLogits: Tensor) throws -> Sizes {
        for (t, role) in [(logits, "logits"), (labels, "labels"), (weights, "weights"), (losses, "losses"), (dLogits, "dLogits")] {
            try Check.dtype(t, .float32, "\(op) \(role)")
        }
        let rows = rowDims.reduce(1, *)
        let targets = weights.count
        guard targets >= 1 else { throw EngineError.usage("\(op) weights: expected one weight per target (≥ 1), got an empty tensor") }
        let perTarget = (rowDims + [targets]).shapeDescription
        guard logits.count == rows * targets else {
            throw EngineError.usage("\(op) logits: expected shape \(perTarget) (T = \(targets) from weights), got \(logits.shape.shapeDescription)")
        }
        guard dLogits.count == rows * targets else {
            throw EngineError.usage("\(op) dLogits: expected shape \(perTarget) like the logits, got \(dLogits.shape.shapeDescription)")
        }
        try Check.count(losses, targets, "\(op) losses (one per target)")
        guard labelColumn >= 0 else { throw EngineError.usage("\(op) labels: labelColumn \(labelColumn) is negative") }
        let labelWidth = rows == 0 ? labelColumn + targets : labels.count / rows
        guard labels.count == rows * labelWidth, labelColumn + targets <= labelWidth else {
            let dims = rowDims.map(String.init).joined(separator: ", ")
            throw EngineError.usage("\(op) labels: expected shape [\(dims), L] with L ≥ \(labelColumn + targets) (labelColumn \(labelColumn) + T \(targets)), got \(labels.shape.shapeDescription)")
        }
        guard logits.count < Int(Int32.max), labels.count < Int(Int32.max) else {
            throw EngineError.usage("\(op): tensors beyond 2^31 elements")
        }
        return Sizes(rows: rows, targets: targets, labelWidth: labelWidth, listLength: 1)
    }

    static func bce(logits: Tensor, labels: Tensor, labelColumn: Int, rowMask: Tensor, weights: Tensor,
                    losses: Tensor, dLogits: Tensor) throws -> Sizes {
        try Check.dtype(rowMask, .float32, "bce rowMask")
        return try sizes(op: "bce", rowDims: [rowMask.count], logits: logits, labels: labels, labelColumn: labelColumn,
                         weights: weights, losses: losses, dLogits: dLogits)
    }

    static func listwise(logits: Tensor, labels: Tensor, labelColumn: Int, mask: Tensor, weights: Tensor,
                         losses: Tensor, skipped: Tensor, dLogits: Tensor) throws -> Sizes {
        try Check.dtype(mask, .float32, "listwise mask")
        guard mask.shape.count == 2 else {
            throw EngineError.usage("listwise mask: expected shape [B, K] (lists, slots), got \(mask.shape.shapeDescription)")
        }
        let b = mask.shape[0], k = mask.shape[1]
        var s = try sizes(op: "listwise", rowDims: [b, k], logits: logits, labels: labels,
                          labelColumn: labelColumn, weights: weights, losses: losses, dLogits: dLogits)
        try Check.dtype(skipped, .int32, "listwise skipped")
        try Check.count(skipped, s.targets, "listwise skipped (one per target)")
        s.listLength = k
        return s
    }
}
