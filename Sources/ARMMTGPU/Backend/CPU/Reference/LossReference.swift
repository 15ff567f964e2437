import Foundation

/// The elementary functions the loss and optimizer references need, for `Float` and `Double`.
/// CPU reference for `LossOps`, generic over the scalar (`Float`: the CPU backend; `Double`:
/// gradient checks and the self-test reference). Semantics and shapes: `LossOps`; callers
/// validate sizes first. Sums run in row order, so results are deterministic.
public enum LossReference {
    /// `σ(x)` without overflow for large `|x|`.
    @inline(__always) static func sigmoid<T: ReferenceScalar>(_ x: T) -> T {
        if x >= 0 { return 1 / (1 + T.exp(-x)) }
        let e = T.exp(x)
        return e / (1 + e)
    }

    /// The gain `2^rel − 1` of a graded label; non-positive labels give 0.
    @inline(__always) static func gain<T: ReferenceScalar>(_ rel: T) -> T { rel > 0 ? T.exp2(rel) - 1 : 0 }

    public static func bce<T: ReferenceScalar>(logits: UnsafePointer<T>, labels: UnsafePointer<T>, labelWidth: Int,
                                          labelColumn: Int, rowMask: UnsafePointer<T>, weights: UnsafePointer<T>,
                                          rows: Int, targets: Int,
                                          losses: UnsafeMutablePointer<T>, dLogits: UnsafeMutablePointer<T>) {
        var valid = 0
        for r in 0..<rows where rowMask[r] > 0 { valid += 1 }
        for t in 0..<targets {
            var sum: T = 0
            let scale: T = valid > 0 ? weights[t] / T(valid) : 0
            for r in 0..<rows {
                guard rowMask[r] > 0 else {
                    dLogits[r * targets + t] = 0
                    continue
                }
                let x = logits[r * targets + t]
                let y: T = labels[r * labelWidth + labelColumn + t] > 0 ? 1 : 0
                sum += max(x, 0) - x * y + T.log1p(T.exp(-abs(x)))
                dLogits[r * targets + t] = scale * (sigmoid(x) - y)
            }
            losses[t] = valid > 0 ? sum / T(valid) : 0
        }
    }

    public static func listwise<T: ReferenceScalar>(logits: UnsafePointer<T>, labels: UnsafePointer<T>, labelWidth: Int,
                                               labelColumn: Int, mask: UnsafePointer<T>, weights: UnsafePointer<T>,
                                               lists: Int, length: Int, targets: Int,
                                               losses: UnsafeMutablePointer<T>, skipped: UnsafeMutablePointer<Int32>,
                                               dLogits: UnsafeMutablePointer<T>) {
        for t in 0..<targets {
            @inline(__always) func x(_ i: Int) -> T { logits[i * targets + t] }
            @inline(__always) func g(_ i: Int) -> T { gain(labels[i * labelWidth + labelColumn + t]) }
            // Pass 1: the loss of every kept list, and how many are kept (the gradient's divisor).
            var sum: T = 0
            var kept = 0
            for b in 0..<lists {
                let base = b * length
                var mx = -T.infinity, total: T = 0
                for k in 0..<length where mask[base + k] > 0 {
                    mx = max(mx, x(base + k))
                    total += g(base + k)
                }
                guard total > 0 else { continue }
                var s: T = 0
                for k in 0..<length where mask[base + k] > 0 { s += T.exp(x(base + k) - mx) }
                let lse = mx + T.log(s)
                var loss: T = 0
                for k in 0..<length where mask[base + k] > 0 { loss += g(base + k) / total * (lse - x(base + k)) }
                sum += loss
                kept += 1
            }
            losses[t] = kept > 0 ? sum / T(kept) : 0
            skipped[t] = Int32(lists - kept)
            // Pass 2: gradients, now that the divisor is known.
            let scale: T = kept > 0 ? weights[t] / T(kept) : 0
            for b in 0..<lists {
                let base = b * length
                var mx = -T.infinity, total: T = 0
                for k in 0..<length where mask[base + k] > 0 {
                    mx = max(mx, x(base + k))
                    total += g(base + k)
                }
                var s: T = 0
                if total > 0 {
                    for k in 0..<length where mask[base + k] > 0 { s += T.exp(x(base + k) - mx) }
                }
                for k in 0..<length {
                    let i = base + k
                    dLogits[i * targets + t] = total > 0 && mask[i] > 0 ? scale * (T.exp(x(i) - mx) / s - g(i) / total) : 0
                }
            }
        }
    }
}
