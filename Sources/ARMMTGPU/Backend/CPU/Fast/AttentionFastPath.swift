import Foundation

/// Float fast path of fused attention for the CPU backend (math and shapes: `AttentionOps`;
/// `AttentionReference` stays the Double reference and the spec of the summation).
///
/// Each (b, h) pair is one unit of work, pairs are spread over cores, and each pair writes only
/// its own slices of O, logSumExp, dQ, dK, dV, so results do not depend on the split. Per pair
/// the valid keys are gathered (padded keys are never read) into zero-padded, SIMD-friendly
/// copies: Kᵀ pre-scaled `[dh, n8]`, K and V `[n, dh8]`, Vᵀ `[dh, n8]` (n8, dh8 = n, dh
/// rounded up to 8). Every product is then a `SmallGemm` with an 8-wide column dimension, and
/// the softmax exponentials are `VectorMath.exp`.
enum AttentionFastPath {
    @inline(__always) static func round8(_ x: Int) -> Int { (x + 7) & ~7 }

    /// Per-task buffers, sized for the largest pair.
    final class Scratch {
        let valid: UnsafeMutablePointer<Int>
        let kT, vT, kc, vc, qc, dOc, s, dP, tr, acc: UnsafeMutablePointer<Float>
        let rowScale: UnsafeMutablePointer<Float>
        private var all: [UnsafeMutablePointer<Float>] { [kT, vT, kc, vc, qc, dOc, s, dP, tr, acc, rowScale] }

        init(_ p: AttentionParameters) {
            let n8 = round8(p.keyLength), dh8 = round8(p.headDim), lq = p.queryLength, dh = p.headDim
            func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
                let b = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
                b.initialize(repeating: 0, count: max(n, 1))
                return b
            }
            valid = .allocate(capacity: max(p.keyLength, 1))
            kT = buf(dh * n8); vT = buf(dh * n8)
            kc = buf(n8 * dh8); vc = buf(n8 * dh8)
            qc = buf(lq * dh8); dOc = buf(lq * dh8)
            s = buf(lq * n8); dP = buf(lq * n8); tr = buf(n8 * lq)
            acc = buf(max(lq, n8) * dh8)
            rowScale = buf(lq)
        }

        deinit {
            valid.deallocate()
            for b in all { b.deallocate() }
        }

        /// Indices of the valid keys of sample b; returns how many.
        func gatherValid(_ p: AttentionParameters, b: Int, keyMask: UnsafePointer<Float>?) -> Int {
            var n = 0
            for j in 0..<p.keyLength where keyMask == nil || keyMask![b * p.keyLength + j] != 0 {
                valid[n] = j
                n += 1
            }
            return n
        }

        /// `dst[c, jj] = factor · src(valid[jj])[c]` for a `[dh, n8]` transposed copy, zero padded.
        func transposed(_ src: UnsafePointer<Float>, _ a: AttentionReference.Addressing, b: Int, h: Int, n: Int, dh: Int,
                        factor: Float, into dst: UnsafeMutablePointer<Float>) {
            let n8 = round8(n)
            for jj in 0..<n {
                let row = src + a.at(b, valid[jj], h)
                for c in 0..<dh { dst[c * n8 + jj] = factor * row[c] }
            }
            for c in 0..<dh { for jj in n..<n8 { dst[c * n8 + jj] = 0 } }
        }

        /// `dst[r, c] = src(row r)[c]` for a `[rows, dh8]` copy, zero padded.
        func compact(rows: Int, dh: Int, into dst: UnsafeMutablePointer<Float>, _ row: (Int) -> UnsafePointer<Float>) {
            let dh8 = round8(dh)
            for r in 0..<rows {
                let sr = row(r), dr = dst + r * dh8
                for c in 0..<dh { dr[c] = sr[c] }
                for c in dh..<dh8 { dr[c] = 0 }
            }
        }

        /// `tr[jj, i] = m[i, jj]` for the `[lq, n8]` matrix m (first n columns).
        func transposeScores(_ m: UnsafePointer<Float>, lq: Int, n: Int) {
            let n8 = round8(n)
            for i in 0..<lq {
                let mr = m + i * n8
                for jj in 0..<n { tr[jj * lq + i] = mr[jj] }
            }
        }
    }

    static func forEachPair(_ p: AttentionParameters, parallel: Bool, _ body: (Int, Int, Scratch) -> Void) {
        let pairs = p.batch * p.heads
        let work = p.queryLength * p.keyLength * max(p.headDim, 1) * 4
        CPUParallel.forEachRange(pairs, workPerItem: work, parallel: parallel, tasksPerCore: 4) { range in
            let s = Scratch(p)
            for bh in range { body(bh / p.heads, bh % p.heads, s) }
        }
    }

    static func forward(_ p: AttentionParameters, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                        keyMask: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                        logSumExp: UnsafeMutablePointer<Float>, parallel: Bool) {
        let qa = AttentionReference.Addressing(p, p.qLayout, length: p.queryLength)
        let ka = AttentionReference.Addressing(p, p.kLayout, length: p.keyLength)
        let va = AttentionReference.Addressing(p, p.vLayout, length: p.keyLength)
        let oa = AttentionReference.Addressing(p, p.outLayout, length: p.queryLength)
        let dh = p.headDim, dh8 = round8(dh), lq = p.queryLength
        forEachPair(p, parallel: parallel) { b, h, s in
            let n = s.gatherValid(p, b: b, keyMask: keyMask)
            let lse = logSumExp + (b * p.heads + h) * lq
            guard n > 0, lq > 0 else {
                for i in 0..<lq {
                    (out + oa.at(b, i, h)).update(repeating: 0, count: dh)
                    lse[i] = 0
                }
                return
            }
            let n8 = round8(n)
            s.transposed(k, ka, b: b, h: h, n: n, dh: dh, factor: p.scale, into: s.kT)
            s.compact(rows: n, dh: dh, into: s.vc) { v + va.at(b, s.valid[$0], h) }
            // S = Q·(scale·K)ᵀ, [lq, n8].
            SmallGemm.multiply(m: lq, columns: n8, k: dh, a: q + qa.at(b, 0, h), lda: p.rowStride(p.qLayout),
                               b: s.kT, ldb: n8, c: s.s, ldc: n8)
            for i in 0..<lq {
                let row = s.s + i * n8
                for jj in n..<n8 { row[jj] = -.infinity }
                var m8 = row.load8(0)
                for j in stride(from: 8, to: n8, by: 8) { m8 = VectorMath.max(m8, row.load8(j)) }
                let m = VectorMath.horizontalMax(m8)
                var sum8 = Float8()
                for j in stride(from: 0, to: n8, by: 8) {
                    let e = VectorMath.exp(row.load8(j) - m)
                    row.store8(e, j)
                    sum8 += e
                }
                let sum = VectorMath.horizontalSum(sum8)
                s.rowScale[i] = 1 / sum
                lse[i] = m + Foundation.log(sum)
            }
            // O = P·V / rowsum, [lq, dh8].
            SmallGemm.multiply(m: lq, columns: dh8, k: n, a: s.s, lda: n8, b: s.vc, ldb: dh8, c: s.acc, ldc: dh8)
            for i in 0..<lq {
                let o = out + oa.at(b, i, h), a = s.acc + i * dh8, inv = s.rowScale[i]
                for c in 0..<dh { o[c] = a[c] * inv }
            }
        }
    }

    static func backward(_ p: AttentionParameters, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                         keyMask: UnsafePointer<Float>?, out: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>,
                         dOut: UnsafePointer<Float>, dQ: UnsafeMutablePointer<Float>, dK: UnsafeMutablePointer<Float>,
                         dV: UnsafeMutablePointer<Float>, parallel: Bool) {
        let qa = AttentionReference.Addressing(p, p.qLayout, length: p.queryLength)
        let ka = AttentionReference.Addressing(p, p.kLayout, length: p.keyLength)
        let va = AttentionReference.Addressing(p, p.vLayout, length: p.keyLength)
        let oa = AttentionReference.Addressing(p, p.outLayout, length: p.queryLength)
        let dh = p.headDim, dh8 = round8(dh), lq = p.queryLength, scale = p.scale
        forEachPair(p, parallel: parallel) { b, h, s in
            for j in 0..<p.keyLength {
                (dK + ka.at(b, j, h)).update(repeating: 0, count: dh)
                (dV + va.at(b, j, h)).update(repeating: 0, count: dh)
            }
            let n = s.gatherValid(p, b: b, keyMask: keyMask)
            guard n > 0, lq > 0 else {
                for i in 0..<lq { (dQ + qa.at(b, i, h)).update(repeating: 0, count: dh) }
                return
            }
            let n8 = round8(n)
            let lse = logSumExp + (b * p.heads + h) * lq
            s.transposed(k, ka, b: b, h: h, n: n, dh: dh, factor: scale, into: s.kT)
            s.transposed(v, va, b: b, h: h, n: n, dh: dh, factor: 1, into: s.vT)
            s.compact(rows: n, dh: dh, into: s.kc) { k + ka.at(b, s.valid[$0], h) }
            s.compact(rows: lq, dh: dh, into: s.qc) { q + qa.at(b, $0, h) }
            s.compact(rows: lq, dh: dh, into: s.dOc) { dOut + oa.at(b, $0, h) }
            // P = exp(S − lse), dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O)).
            SmallGemm.multiply(m: lq, columns: n8, k: dh, a: q + qa.at(b, 0, h), lda: p.rowStride(p.qLayout),
                               b: s.kT, ldb: n8, c: s.s, ldc: n8)
            SmallGemm.multiply(m: lq, columns: n8, k: dh, a: s.dOc, lda: dh8, b: s.vT, ldb: n8, c: s.dP, ldc: n8)
            for i in 0..<lq {
                let row = s.s + i * n8, dpr = s.dP + i * n8
                for jj in n..<n8 { row[jj] = -.infinity }
                let o = out + oa.at(b, i, h), g = s.dOc + i * dh8
                // Fused multiply-adds in c order, as SmallGemm forms dP: with one valid key O = V
                // exactly, so dP − D is exactly 0, as in the reference.
                var d: Float = 0
                for c in 0..<dh { d = d.addingProduct(g[c], o[c]) }
                let l = lse[i]
                for j in stride(from: 0, to: n8, by: 8) {
                    let pj = VectorMath.exp(row.load8(j) - l)
                    row.store8(pj, j)
                    dpr.store8(pj * (dpr.load8(j) - d), j)
                }
            }
            // dQ = scale · dS·K.
            SmallGemm.multiply(m: lq, columns: dh8, k: n, a: s.dP, lda: n8, b: s.kc, ldb: dh8, c: s.acc, ldc: dh8)
            for i in 0..<lq {
                let dq = dQ + qa.at(b, i, h), a = s.acc + i * dh8
                for c in 0..<dh { dq[c] = scale * a[c] }
            }
            // dK = scale · dSᵀ·Q.
            s.transposeScores(s.dP, lq: lq, n: n)
            SmallGemm.multiply(m: n, columns: dh8, k: lq, a: s.tr, lda: lq, b: s.qc, ldb: dh8, c: s.acc, ldc: dh8)
            for jj in 0..<n {
                let dk = dK + ka.at(b, s.valid[jj], h), a = s.acc + jj * dh8
                for c in 0..<dh { dk[c] = scale * a[c] }
            }
            // dV = Pᵀ·dO.
            s.transposeScores(s.s, lq: lq, n: n)
            SmallGemm.multiply(m: n, columns: dh8, k: lq, a: s.tr, lda: lq, b: s.dOc, ldb: dh8, c: s.acc, ldc: dh8)
            for jj in 0..<n {
                let dv = dV + va.at(b, s.valid[jj], h), a = s.acc + jj * dh8
                for c in 0..<dh { dv[c] = a[c] }
            }
        }
    }
}
