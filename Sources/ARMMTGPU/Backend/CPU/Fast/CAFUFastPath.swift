import Foundation

/// Float fast path of the CAFU gate for the CPU backend. Same math and summation structure as
/// `CAFUReference` (the Double reference): the MLP products are OpenBLAS GEMMs over all N items
/// at once; what the reference does item by item in plain loops (pooling, bias + ReLU, the
/// masked softmax, the fused output, the softmax backward, dx) runs here over items split
/// across cores, eight features at a time, in scratch that is not zero-filled per call.
/// db1 and db2 are column sums over items by `CPUParallel.reduceRows` (fixed order).
enum CAFUFastPath {
    /// u[i] = [mean of the present modalities of x[i] ⊕ context[i]], `[N, d + dc]`.
    static func pool(_ p: CAFUParameters, x: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                     context: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>, parallel: Bool) {
        let m = p.modalities, d = p.width, dc = p.contextWidth, k = p.inputWidth
        CPUParallel.forEachRange(p.items, workPerItem: (m + 1) * d + dc, parallel: parallel) { range in
            for i in range {
                let ur = u + i * k
                ur.update(repeating: 0, count: d)
                var count = 0
                for mm in 0..<m where mask[i * m + mm] != 0 {
                    count += 1
                    let xm = x + (i * m + mm) * d
                    for j in 0..<d { ur[j] += xm[j] }
                }
                if count > 0 {
                    let c = Float(count)
                    for j in 0..<d { ur[j] /= c }
                }
                (ur + d).update(from: context + i * dc, count: dc)
            }
        }
    }

    static func forward(_ p: CAFUParameters, x: UnsafePointer<Float>, mask: UnsafePointer<Float>, context: UnsafePointer<Float>,
                        w1: UnsafePointer<Float>, b1: UnsafePointer<Float>, w2: UnsafePointer<Float>, b2: UnsafePointer<Float>,
                        r: UnsafeMutablePointer<Float>, alpha: UnsafeMutablePointer<Float>,
                        hiddenPre: UnsafeMutablePointer<Float>, scratch: CPUScratchPool, parallel: Bool) {
        let n = p.items, m = p.modalities, d = p.width, h = p.hidden, k = p.inputWidth, g = p.gateRows, dg = p.gateWidth
        guard n > 0 else { return }
        scratch.withBuffers([n * k, n * h, n * g]) { b in
            let u = b[0], relu = b[1], logits = b[2]
            pool(p, x: x, mask: mask, context: context, into: u, parallel: parallel)
            Float.blasGemm(transA: false, transB: true, m: n, n: h, k: k, alpha: 1, a: u, lda: k, b: w1, ldb: k,
                           beta: 0, c: hiddenPre, ldc: h)
            CPUParallel.forEachRange(n, workPerItem: 2 * h, parallel: parallel) { range in
                for i in range {
                    let hp = hiddenPre + i * h, rl = relu + i * h
                    for j in 0..<h {
                        let v = hp[j] + b1[j]
                        hp[j] = v
                        rl[j] = v > 0 ? v : 0
                    }
                }
            }
            Float.blasGemm(transA: false, transB: true, m: n, n: g, k: h, alpha: 1, a: relu, lda: h, b: w2, ldb: h,
                           beta: 0, c: logits, ldc: g)
            CPUParallel.forEachRange(n, workPerItem: m * (d + 4 * dg), parallel: parallel) { range in
                for i in range {
                    let lg = logits + i * g, mk = mask + i * m, al = alpha + i * m * dg
                    // Masked softmax over modalities, one per gate column c.
                    for c in 0..<dg {
                        var top = -Float.infinity
                        for mm in 0..<m where mk[mm] != 0 { top = max(top, lg[mm * dg + c] + b2[mm * dg + c]) }
                        var sum: Float = 0
                        for mm in 0..<m {
                            let e: Float = mk[mm] != 0 ? Foundation.exp(lg[mm * dg + c] + b2[mm * dg + c] - top) : 0
                            al[mm * dg + c] = e
                            sum += e
                        }
                        let inv: Float = sum > 0 ? 1 / sum : 0
                        for mm in 0..<m { al[mm * dg + c] *= inv }
                    }
                    let rr = r + i * d
                    rr.update(repeating: 0, count: d)
                    for mm in 0..<m where mk[mm] != 0 {
                        let xm = x + (i * m + mm) * d, am = al + mm * dg
                        if dg == 1 {
                            let a = am[0]
                            for j in 0..<d { rr[j] += a * xm[j] }
                        } else {
                            for j in 0..<d { rr[j] += am[j] * xm[j] }
                        }
                    }
                }
            }
        }
    }

    static func backward(_ p: CAFUParameters, dr: UnsafePointer<Float>, dAlpha: UnsafePointer<Float>?, x: UnsafePointer<Float>,
                         mask: UnsafePointer<Float>, context: UnsafePointer<Float>, w1: UnsafePointer<Float>,
                         w2: UnsafePointer<Float>, alpha: UnsafePointer<Float>, hiddenPre: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>, dContext: UnsafeMutablePointer<Float>, dW1: UnsafeMutablePointer<Float>,
                         db1: UnsafeMutablePointer<Float>, dW2: UnsafeMutablePointer<Float>, db2: UnsafeMutablePointer<Float>,
                         scratch: CPUScratchPool, parallel: Bool) {
        let n = p.items, m = p.modalities, d = p.width, dc = p.contextWidth, h = p.hidden, k = p.inputWidth
        let g = p.gateRows, dg = p.gateWidth
        guard n > 0 else {
            dW1.update(repeating: 0, count: h * k)
            db1.update(repeating: 0, count: h)
            dW2.update(repeating: 0, count: g * h)
            db2.update(repeating: 0, count: g)
            return
        }
        scratch.withBuffers([n * g, n * h, n * h, n * k, n * k]) { b in
            let dA = b[0], relu = b[1], dS = b[2], u = b[3], dU = b[4]

            // dA[i, m·dg + c] = α(γ − Σ α γ), γ = ∂L/∂α (through r, plus dAlpha); relu = max(hiddenPre, 0).
            CPUParallel.forEachRange(n, workPerItem: m * d * 2 + h, parallel: parallel) { range in
                var grad = [Float](repeating: 0, count: m)
                for i in range {
                    let mk = mask + i * m, al = alpha + i * m * dg, dri = dr + i * d, da = dA + i * g
                    for c in 0..<dg {
                        var s: Float = 0
                        for mm in 0..<m {
                            var gm: Float = dAlpha.map { $0[(i * m + mm) * dg + c] } ?? 0
                            if mk[mm] != 0 {
                                let xm = x + (i * m + mm) * d
                                if dg == 1 {
                                    var dot: Float = 0
                                    for j in 0..<d { dot += dri[j] * xm[j] }
                                    gm += dot
                                } else {
                                    gm += dri[c] * xm[c]
                                }
                            }
                            grad[mm] = gm
                            s += al[mm * dg + c] * gm
                        }
                        for mm in 0..<m { da[mm * dg + c] = al[mm * dg + c] * (grad[mm] - s) }
                    }
                    let hp = hiddenPre + i * h, rl = relu + i * h
                    for j in 0..<h { rl[j] = hp[j] > 0 ? hp[j] : 0 }
                }
            }
            Float.blasGemm(transA: true, transB: false, m: g, n: h, k: n, alpha: 1, a: dA, lda: g, b: relu, ldb: h,
                           beta: 0, c: dW2, ldc: h)
            CPUParallel.reduceRows(n, workPerRow: g, width: g, into: db2, parallel: parallel) { range, partial in
                for i in range { let row = dA + i * g; for j in 0..<g { partial[j] += row[j] } }
            }
            Float.blasGemm(transA: false, transB: false, m: n, n: h, k: g, alpha: 1, a: dA, lda: g, b: w2, ldb: h,
                           beta: 0, c: dS, ldc: h)
            pool(p, x: x, mask: mask, context: context, into: u, parallel: parallel)
            // dS ⊙ ReLU'(hiddenPre), and db1 = Σ_items dS, in one pass.
            CPUParallel.reduceRows(n, workPerRow: 2 * h, width: h, into: db1, parallel: parallel) { range, partial in
                for i in range {
                    let row = dS + i * h, hp = hiddenPre + i * h
                    for j in 0..<h {
                        let v: Float = hp[j] > 0 ? row[j] : 0
                        row[j] = v
                        partial[j] += v
                    }
                }
            }
            Float.blasGemm(transA: true, transB: false, m: h, n: k, k: n, alpha: 1, a: dS, lda: h, b: u, ldb: k,
                           beta: 0, c: dW1, ldc: k)
            Float.blasGemm(transA: false, transB: false, m: n, n: k, k: h, alpha: 1, a: dS, lda: h, b: w1, ldb: k,
                           beta: 0, c: dU, ldc: k)
            CPUParallel.forEachRange(n, workPerItem: m * d * 2 + dc, parallel: parallel) { range in
                for i in range {
                    let mk = mask + i * m, dui = dU + i * k, dri = dr + i * d
                    var count = 0
                    for mm in 0..<m where mk[mm] != 0 { count += 1 }
                    let share: Float = count > 0 ? 1 / Float(count) : 0
                    for mm in 0..<m {
                        let dxm = dx + (i * m + mm) * d, am = alpha + (i * m + mm) * dg
                        if mk[mm] == 0 {
                            dxm.update(repeating: 0, count: d)
                        } else if dg == 1 {
                            let a = am[0]
                            for j in 0..<d { dxm[j] = a * dri[j] + share * dui[j] }
                        } else {
                            for j in 0..<d { dxm[j] = am[j] * dri[j] + share * dui[j] }
                        }
                    }
                    (dContext + i * dc).update(from: dui + d, count: dc)
                }
            }
        }
    }
}
