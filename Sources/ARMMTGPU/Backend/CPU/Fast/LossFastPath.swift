import Foundation

/// Float fast path of the losses for the CPU backend (math and shapes: `LossOps`; the
/// reference: `LossReference`), eight rows or list items at a time with `VectorMath`'s exp and
/// log in place of one libm call per element and function. The reference made three calls per
/// BCE element and two exponentials per list item; at the default batch (8192 rows, 2 targets)
/// each loss took about a quarter of a millisecond. Sums run in a fixed order (lanes, then
/// their horizontal sum), so a run's bits do not change; they differ from the reference's
/// within the tolerance the checks state.
enum LossFastPath {
    /// `log(1 + e)` for e in [0, 1]: log(u)·e/(u − 1) with u = 1 + e rounded, which cancels the
    /// rounding of u (Goldberg); e itself where u rounds to 1. Keeps the relative accuracy of a
    /// true log1p when e is tiny (a confident, correct logit), where log(1 + e) would give 0.
    @inline(__always) static func log1p(_ e: Float8) -> Float8 {
        let u = 1 + e
        return (VectorMath.log(u) * e / (u - 1)).replacing(with: e, where: u .== 1)
    }

    static func bce(logits: UnsafePointer<Float>, labels: UnsafePointer<Float>, labelWidth: Int, labelColumn: Int,
                    rowMask: UnsafePointer<Float>, weights: UnsafePointer<Float>, rows: Int, targets: Int,
                    losses: UnsafeMutablePointer<Float>, dLogits: UnsafeMutablePointer<Float>) {
        var valid = 0
        for r in 0..<rows where rowMask[r] > 0 { valid += 1 }
        for t in 0..<targets {
            let scale: Float = valid > 0 ? weights[t] / Float(valid) : 0
            var sum = Float8()
            var r0 = 0
            while r0 < rows {
                let lanes = min(8, rows - r0)
                var x = Float8(), y = Float8(), keep = Float8()
                for j in 0..<lanes {
                    let r = r0 + j
                    x[j] = logits[r * targets + t]
                    y[j] = labels[r * labelWidth + labelColumn + t] > 0 ? 1 : 0
                    keep[j] = rowMask[r] > 0 ? 1 : 0
                }
                // One exponential serves both: log1p(e^−|x|) in the loss and σ(x) = 1/(1 + e)
                // for x ≥ 0, e/(1 + e) below.
                let e = VectorMath.exp(-VectorMath.abs(x)), u = 1 + e
                let term = VectorMath.max(x, Float8()) - x * y + log1p(e)
                let sigma = (e / u).replacing(with: 1 / u, where: x .>= 0)
                let d = scale * (sigma - y)
                sum += term.replacing(with: 0, where: keep .== 0)
                for j in 0..<lanes { dLogits[(r0 + j) * targets + t] = keep[j] > 0 ? d[j] : 0 }
                r0 += lanes
            }
            losses[t] = valid > 0 ? VectorMath.horizontalSum(sum) / Float(valid) : 0
        }
    }

    static func listwise(logits: UnsafePointer<Float>, labels: UnsafePointer<Float>, labelWidth: Int, labelColumn: Int,
                         mask: UnsafePointer<Float>, weights: UnsafePointer<Float>, lists: Int, length: Int, targets: Int,
                         losses: UnsafeMutablePointer<Float>, skipped: UnsafeMutablePointer<Int32>,
                         dLogits: UnsafeMutablePointer<Float>) {
        let padded = (length + 7) & ~7
        var keptList = [Bool](repeating: false, count: lists)
        // One list's logits, gains, mask (1 or 0) and exponentials, gathered from their strided
        // columns; the lanes past `length` stay 0 (masked) for the whole call.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * max(padded, 8)) { buffer in
            let xs = buffer.baseAddress!, gs = xs + padded, ms = gs + padded, es = ms + padded
            buffer.initialize(repeating: 0)
            for t in 0..<targets {
                var sum: Float = 0, kept = 0
                for b in 0..<lists {
                    let base = b * length
                    var mx = -Float.infinity, total: Float = 0
                    for k in 0..<length {
                        let i = base + k, present = mask[i] > 0
                        xs[k] = logits[i * targets + t]
                        gs[k] = LossReference.gain(labels[i * labelWidth + labelColumn + t])
                        ms[k] = present ? 1 : 0
                        if present {
                            mx = max(mx, xs[k])
                            total += gs[k]
                        }
                    }
                    keptList[b] = total > 0
                    guard total > 0 else {
                        for k in 0..<length { dLogits[(base + k) * targets + t] = 0 }
                        continue
                    }
                    var s8 = Float8()
                    for k in stride(from: 0, to: padded, by: 8) {
                        let e = VectorMath.exp(xs.load8(k) - mx).replacing(with: 0, where: ms.load8(k) .== 0)
                        es.store8(e, k)
                        s8 += e
                    }
                    let s = VectorMath.horizontalSum(s8), lse = mx + Foundation.logf(s)
                    // loss = Σ g/total·(lse − x); the gradient before the scale, p − g/total.
                    var loss = Float8()
                    for k in stride(from: 0, to: padded, by: 8) {
                        let q = gs.load8(k) / total, absent = ms.load8(k) .== 0
                        loss += (q * (lse - xs.load8(k))).replacing(with: 0, where: absent)
                        es.store8((es.load8(k) / s - q).replacing(with: 0, where: absent), k)
                    }
                    for k in 0..<length { dLogits[(base + k) * targets + t] = es[k] }
                    sum += VectorMath.horizontalSum(loss)
                    kept += 1
                }
                losses[t] = kept > 0 ? sum / Float(kept) : 0
                skipped[t] = Int32(lists - kept)
                let scale: Float = kept > 0 ? weights[t] / Float(kept) : 0
                for b in 0..<lists where keptList[b] {
                    for k in 0..<length { dLogits[(b * length + k) * targets + t] *= scale }
                }
            }
        }
    }
}
