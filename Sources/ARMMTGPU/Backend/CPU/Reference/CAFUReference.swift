/// CPU reference CAFU, generic over the scalar (`Float` for the CPU backend, `Double` for
/// gradient checks and the self-test). The per-item matrix-vector products are batched into
/// GEMMs over all items (OpenBLAS). Semantics and shapes: `CAFUOps`.
public enum CAFUReference {
    /// U = [z ⊕ context] `[N, d + dc]`, z the mean of the present modalities.
    static func pooledInputs<T: BinaryFloatingPoint>(_ p: CAFUParameters, x: UnsafePointer<T>, mask: UnsafePointer<T>,
                                                     context: UnsafePointer<T>) -> [T] {
        let n = p.items, m = p.modalities, d = p.width, dc = p.contextWidth, k = p.inputWidth
        var u = [T](repeating: 0, count: n * k)
        u.withUnsafeMutableBufferPointer { ub in
            let up = ub.baseAddress!
            for i in 0..<n {
                var count = 0
                for mm in 0..<m where mask[i * m + mm] != 0 {
                    count += 1
                    let xm = x + (i * m + mm) * d
                    for j in 0..<d { up[i * k + j] += xm[j] }
                }
                if count > 0 { for j in 0..<d { up[i * k + j] /= T(count) } }
                for j in 0..<dc { up[i * k + d + j] = context[i * dc + j] }
            }
        }
        return u
    }

    public static func forward<T: BLASScalar & ReferenceScalar>(
        _ p: CAFUParameters, x: UnsafePointer<T>, mask: UnsafePointer<T>, context: UnsafePointer<T>,
        w1: UnsafePointer<T>, b1: UnsafePointer<T>, w2: UnsafePointer<T>, b2: UnsafePointer<T>,
        r: UnsafeMutablePointer<T>, alpha: UnsafeMutablePointer<T>, hiddenPre: UnsafeMutablePointer<T>) {
        let n = p.items, m = p.modalities, d = p.width, h = p.hidden, k = p.inputWidth, g = p.gateRows, dg = p.gateWidth
        guard n > 0 else { return }
        let u = pooledInputs(p, x: x, mask: mask, context: context)
        T.blasGemm(transA: false, transB: true, m: n, n: h, k: k, alpha: 1, a: u, lda: k, b: w1, ldb: k,
                   beta: 0, c: hiddenPre, ldc: h)
        var relu = [T](repeating: 0, count: n * h)
        for i in 0..<n {
            for j in 0..<h {
                hiddenPre[i * h + j] += b1[j]
                relu[i * h + j] = max(hiddenPre[i * h + j], 0)
            }
        }
        var logits = [T](repeating: 0, count: n * g)
        T.blasGemm(transA: false, transB: true, m: n, n: g, k: h, alpha: 1, a: relu, lda: h, b: w2, ldb: h,
                   beta: 0, c: &logits, ldc: g)
        for i in 0..<n {
            // Masked softmax over modalities, one per gate column c.
            for c in 0..<dg {
                var top = -T.infinity
                for mm in 0..<m where mask[i * m + mm] != 0 { top = max(top, logits[i * g + mm * dg + c] + b2[mm * dg + c]) }
                var sum: T = 0
                for mm in 0..<m {
                    let e: T = mask[i * m + mm] != 0 ? T.exp(logits[i * g + mm * dg + c] + b2[mm * dg + c] - top) : 0
                    alpha[(i * m + mm) * dg + c] = e
                    sum += e
                }
                let inv: T = sum > 0 ? 1 / sum : 0
                for mm in 0..<m { alpha[(i * m + mm) * dg + c] *= inv }
            }
            for j in 0..<d {
                var s: T = 0
                for mm in 0..<m where mask[i * m + mm] != 0 {
                    s += alpha[(i * m + mm) * dg + (dg == 1 ? 0 : j)] * x[(i * m + mm) * d + j]
                }
                r[i * d + j] = s
            }
        }
    }

    public static func backward<T: BLASScalar & ReferenceScalar>(
        _ p: CAFUParameters, dr: UnsafePointer<T>, dAlpha: UnsafePointer<T>?, x: UnsafePointer<T>, mask: UnsafePointer<T>,
        context: UnsafePointer<T>, w1: UnsafePointer<T>, w2: UnsafePointer<T>, alpha: UnsafePointer<T>,
        hiddenPre: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, dContext: UnsafeMutablePointer<T>,
        dW1: UnsafeMutablePointer<T>, db1: UnsafeMutablePointer<T>, dW2: UnsafeMutablePointer<T>, db2: UnsafeMutablePointer<T>) {
        let n = p.items, m = p.modalities, d = p.width, dc = p.contextWidth, h = p.hidden, k = p.inputWidth
        let g = p.gateRows, dg = p.gateWidth
        dW1.update(repeating: 0, count: h * k)
        db1.update(repeating: 0, count: h)
        dW2.update(repeating: 0, count: g * h)
        db2.update(repeating: 0, count: g)
        guard n > 0 else { return }

        // dA[n, m·dg + c] = α(g − Σ α g), g = ∂L/∂α (through r, plus dAlpha).
        var dA = [T](repeating: 0, count: n * g)
        var grad = [T](repeating: 0, count: m)
        for i in 0..<n {
            for c in 0..<dg {
                var s: T = 0
                for mm in 0..<m {
                    var gm: T = dAlpha.map { $0[(i * m + mm) * dg + c] } ?? 0
                    if mask[i * m + mm] != 0 {
                        let xm = x + (i * m + mm) * d
                        if dg == 1 { for j in 0..<d { gm += dr[i * d + j] * xm[j] } } else { gm += dr[i * d + c] * xm[c] }
                    }
                    grad[mm] = gm
                    s += alpha[(i * m + mm) * dg + c] * gm
                }
                for mm in 0..<m { dA[i * g + mm * dg + c] = alpha[(i * m + mm) * dg + c] * (grad[mm] - s) }
            }
        }
        var relu = [T](repeating: 0, count: n * h)
        for i in 0..<(n * h) { relu[i] = max(hiddenPre[i], 0) }
        T.blasGemm(transA: true, transB: false, m: g, n: h, k: n, alpha: 1, a: dA, lda: g, b: relu, ldb: h,
                   beta: 0, c: dW2, ldc: h)
        for i in 0..<n { for j in 0..<g { db2[j] += dA[i * g + j] } }

        var dS = [T](repeating: 0, count: n * h)
        T.blasGemm(transA: false, transB: false, m: n, n: h, k: g, alpha: 1, a: dA, lda: g, b: w2, ldb: h,
                   beta: 0, c: &dS, ldc: h)
        for i in 0..<(n * h) where !(hiddenPre[i] > 0) { dS[i] = 0 }
        let u = pooledInputs(p, x: x, mask: mask, context: context)
        T.blasGemm(transA: true, transB: false, m: h, n: k, k: n, alpha: 1, a: dS, lda: h, b: u, ldb: k,
                   beta: 0, c: dW1, ldc: k)
        for i in 0..<n { for j in 0..<h { db1[j] += dS[i * h + j] } }

        var dU = [T](repeating: 0, count: n * k)
        T.blasGemm(transA: false, transB: false, m: n, n: k, k: h, alpha: 1, a: dS, lda: h, b: w1, ldb: k,
                   beta: 0, c: &dU, ldc: k)
        for i in 0..<n {
            var count = 0
            for mm in 0..<m where mask[i * m + mm] != 0 { count += 1 }
            let share: T = count > 0 ? 1 / T(count) : 0
            for mm in 0..<m {
                let present = mask[i * m + mm] != 0
                let dxm = dx + (i * m + mm) * d
                for j in 0..<d {
                    dxm[j] = present ? alpha[(i * m + mm) * dg + (dg == 1 ? 0 : j)] * dr[i * d + j] + share * dU[i * k + j] : 0
                }
            }
            for j in 0..<dc { dContext[i * dc + j] = dU[i * k + d + j] }
        }
    }
}
