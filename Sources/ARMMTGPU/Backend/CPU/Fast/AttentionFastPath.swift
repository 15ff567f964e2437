import Foundation

/// Float fast path of fused attention for the CPU backend (math and shapes: `AttentionOps`;
/// `AttentionReference` stays the Double reference and the spec of the summation).
///
/// One sample (all H heads) is one unit of work; samples are spread over cores and each writes
/// only its own rows of O, logSumExp, dQ, dK, dV, so results do not depend on the split.
///
/// At the model's shapes the arithmetic per (sample, head) is a few microseconds, so memory
/// decides the speed: a head's slice of a token row is only `dh` floats (64 bytes at dh = 16)
/// inside a row of `H·dh`, and walking one head at a time missed the cache line after line.
/// Instead each operand row of a sample is read once, whole (all heads), in token order, into
/// per-head SIMD-friendly copies in the task's workspace, while the next sample's rows are
/// already being loaded (`touch`). Results of all heads are staged in `[rows, H·dh8]` buffers
/// and written out row by row, again whole rows in order.
///
/// Scores are kept transposed, `Sᵀ [n, Lq8]` (keys × queries, n the valid keys, Lq8 = Lq
/// rounded up to 8): the softmax over keys is then lane-wise across rows (max, exp, sum and
/// log of 8 queries at once, no horizontal reductions, no padded keys). Copies: K, V rows
/// `[n4, dh8]` (n4 = n rounded up to 4, extra rows 0), Q, dO rows `[Lq, dh8]`, and
/// scale·Qᵀ, dOᵀ `[dh, Lq8]` (dh8 = dh rounded up to 8, padding 0). Every product is a
/// `SmallGemm` with an 8-wide column dimension, transposed operands read in place through its
/// column stride.
enum AttentionFastPath {
    @inline(__always) static func round8(_ x: Int) -> Int { (x + 7) & ~7 }
    @inline(__always) static func round4(_ x: Int) -> Int { (x + 3) & ~3 }

    /// The buffers of one task, carved out of one pooled allocation (contents unspecified when
    /// handed out: every element is written before it is read).
    struct Workspace {
        let valid: UnsafeMutablePointer<Int>  // [Lk] indices of the valid keys of the sample
        let kc, vc: UnsafeMutablePointer<Float>  // per head [n4, dh8]
        let qc, dOc: UnsafeMutablePointer<Float>  // per head [Lq, dh8]
        let qT, dOT: UnsafeMutablePointer<Float>  // per head [dh, Lq8]: scale·Qᵀ, dOᵀ
        let s, dP: UnsafeMutablePointer<Float>  // [n4, Lq8] Sᵀ/Pᵀ and dPᵀ/dSᵀ of one head
        let stageQ: UnsafeMutablePointer<Float>  // [Lq, H·dh8] O·rowsum or dQ/scale
        let stageK, stageV: UnsafeMutablePointer<Float>  // [n4, H·dh8] dK/scale, dV
        let stat1, stat2: UnsafeMutablePointer<Float>  // [H, Lq8] lse and 1/rowsum, or lse and D

        private static func sizes(_ p: AttentionParameters) -> [Int] {
            let n4 = round4(p.keyLength), lq8 = round8(p.queryLength), dh8 = round8(p.headDim), h = p.heads
            let kc = h * n4 * dh8, qc = h * p.queryLength * dh8, qT = h * p.headDim * lq8, s = n4 * lq8
            let stage = h * dh8
            return [kc, kc, qc, qc, qT, qT, s, s, p.queryLength * stage, n4 * stage, n4 * stage, h * lq8, h * lq8]
        }

        static func floats(_ p: AttentionParameters) -> Int { sizes(p).reduce(0, +) }

        init(_ p: AttentionParameters, _ base: UnsafeMutablePointer<Float>, valid: UnsafeMutablePointer<Int>) {
            self.valid = valid
            var parts: [UnsafeMutablePointer<Float>] = []
            var at = base
            for n in Self.sizes(p) {
                parts.append(at)
                at += n
            }
            (kc, vc, qc, dOc, qT, dOT) = (parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
            (s, dP, stageQ, stageK, stageV) = (parts[6], parts[7], parts[8], parts[9], parts[10])
            (stat1, stat2) = (parts[11], parts[12])
        }

        /// Indices of the valid keys of sample b, ascending; returns how many.
        func gatherValid(_ p: AttentionParameters, b: Int, keyMask: UnsafePointer<Float>?) -> Int {
            guard let keyMask else {
                for j in 0..<p.keyLength { valid[j] = j }
                return p.keyLength
            }
            var n = 0
            let m = keyMask + b * p.keyLength
            for j in 0..<p.keyLength where m[j] != 0 {
                valid[n] = j
                n += 1
            }
            return n
        }
    }

    /// Runs `body(b, workspace)` for every sample, spread over cores.
    static func forEachSample(_ p: AttentionParameters, pool: CPUScratchPool, parallel: Bool,
                              _ body: (Int, Workspace) -> Void) {
        let work = p.heads * p.queryLength * p.keyLength * max(p.headDim, 1) * 4
        let floats = Workspace.floats(p)
        CPUParallel.forEachRange(p.batch, workPerItem: work, parallel: parallel, tasksPerCore: 4) { range in
            let valid = UnsafeMutablePointer<Int>.allocate(capacity: max(p.keyLength, 1))
            defer { valid.deallocate() }
            pool.withBuffers([floats]) { buffers in
                let w = Workspace(p, buffers[0], valid: valid)
                for b in range { body(b, w) }
            }
        }
    }

    /// Loads one float per 64-byte line of the rows `row(r)` (`width` floats each) that `take(r)`
    /// accepts, into `sink`. Called for the next sample before the current one computes: the
    /// loads are independent, so their cache misses overlap each other and the arithmetic,
    /// where the gathers would otherwise stall on one short stream after another (Swift has no
    /// prefetch instruction; plain loads feeding a sink do the same job). The loads feed four
    /// sums, one per line of a 256-byte stretch: one sum made every load wait for the add of
    /// the one before it.
    @inline(__always)
    static func touch(rows: Int, width: Int, sink: inout Float, take: (Int) -> Bool = { _ in true },
                      _ row: (Int) -> UnsafePointer<Float>) {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        for r in 0..<rows where take(r) {
            let p = row(r)
            var c = 0
            while c + 64 <= width {
                s0 += p[c]
                s1 += p[c + 16]
                s2 += p[c + 32]
                s3 += p[c + 48]
                c += 64
            }
            while c < width {
                s0 += p[c]
                c += 16
            }
            s1 += p[width - 1]
        }
        sink += (s0 + s1) + (s2 + s3)
    }

    /// `dst[r, i] = factor · row(i)[r]` for r < width (= H·dh: head h's `[dh, cols8]` block
    /// starts at row h·dh), i < rows; columns rows..<cols8 zero. Reads each row once, whole;
    /// 8 × 8 tiles are transposed in registers and stored as vectors (one scalar store per
    /// element cost more than the products that use the copy).
    @inline(__always)
    static func gatherTransposed(rows: Int, cols8: Int, width: Int, factor: Float, into dst: UnsafeMutablePointer<Float>,
                                 _ row: (Int) -> UnsafePointer<Float>) {
        let f = Float8(repeating: factor), width8 = width & ~7
        var i = 0
        while i + 8 <= rows {
            let s0 = row(i), s1 = row(i + 1), s2 = row(i + 2), s3 = row(i + 3)
            let s4 = row(i + 4), s5 = row(i + 5), s6 = row(i + 6), s7 = row(i + 7)
            var r = 0
            while r < width8 {
                let v0 = s0.load8(r), v1 = s1.load8(r), v2 = s2.load8(r), v3 = s3.load8(r)
                let v4 = s4.load8(r), v5 = s5.load8(r), v6 = s6.load8(r), v7 = s7.load8(r)
                for c in 0..<8 {
                    let t = Float8(v0[c], v1[c], v2[c], v3[c], v4[c], v5[c], v6[c], v7[c])
                    dst.store8(f * t, (r + c) * cols8 + i)
                }
                r += 8
            }
            for rr in width8..<width {
                for l in 0..<8 { dst[rr * cols8 + i + l] = factor * row(i + l)[rr] }
            }
            i += 8
        }
        while i < rows {
            let src = row(i)
            for r in 0..<width { dst[r * cols8 + i] = factor * src[r] }
            i += 1
        }
        if rows < cols8 {
            for r in 0..<width { for i in rows..<cols8 { dst[r * cols8 + i] = 0 } }
        }
    }

    /// `dst[c] = a · src[c]`, c < n.
    @inline(__always)
    static func scaled(_ src: UnsafePointer<Float>, _ a: Float, into dst: UnsafeMutablePointer<Float>, _ n: Int) {
        var c = 0
        while c + 8 <= n { dst.store8(Float8(repeating: a) * src.load8(c), c); c += 8 }
        while c < n { dst[c] = a * src[c]; c += 1 }
    }

    /// `dst_h[r, c] = row(r)[h·dh + c]` for every head h: per head a `[paddedRows, dh8]` copy,
    /// columns dh..<dh8 and rows rows..<paddedRows zero. Reads each row once, whole.
    @inline(__always)
    static func gatherRows(rows: Int, paddedRows: Int, heads: Int, dh: Int, into dst: UnsafeMutablePointer<Float>,
                           _ row: (Int) -> UnsafePointer<Float>) {
        let dh8 = round8(dh), headStride = paddedRows * dh8
        if dh == dh8 {
            for r in 0..<rows {
                let src = row(r)
                for h in 0..<heads {
                    let sh = src + h * dh, dr = dst + h * headStride + r * dh8
                    for c in stride(from: 0, to: dh, by: 8) { dr.store8(sh.load8(c), c) }
                }
            }
        } else {
            for r in 0..<rows {
                let src = row(r)
                for h in 0..<heads {
                    let sh = src + h * dh, dr = dst + h * headStride + r * dh8
                    for c in 0..<dh { dr[c] = sh[c] }
                    for c in dh..<dh8 { dr[c] = 0 }
                }
            }
        }
        if rows < paddedRows {
            for h in 0..<heads { (dst + h * headStride + rows * dh8).update(repeating: 0, count: (paddedRows - rows) * dh8) }
        }
    }

    /// Softmax over keys of transposed scores `Sᵀ [n, lq8]` (rows n..<n4 set to 0), in place:
    /// `Pᵀ = e^(Sᵀ − max)` unnormalised; per query `lse = max + log Σ`, `inverseSum = 1/Σ`.
    @inline(never)
    static func softmaxColumns(_ s: UnsafeMutablePointer<Float>, n: Int, n4: Int, lq8: Int,
                               lse: UnsafeMutablePointer<Float>, inverseSum: UnsafeMutablePointer<Float>) {
        for g in stride(from: 0, to: lq8, by: 8) {
            let col = s + g
            var m0 = col.load8(0), m1 = m0
            var j = 1
            while j + 1 < n {
                m0 = VectorMath.max(m0, col.load8(j * lq8))
                m1 = VectorMath.max(m1, col.load8((j + 1) * lq8))
                j += 2
            }
            if j < n { m0 = VectorMath.max(m0, col.load8(j * lq8)) }
            let m = VectorMath.max(m0, m1)
            var sum0 = Float8(), sum1 = Float8()
            j = 0
            while j + 1 < n {
                let e0 = VectorMath.exp(col.load8(j * lq8) - m), e1 = VectorMath.exp(col.load8((j + 1) * lq8) - m)
                col.store8(e0, j * lq8)
                col.store8(e1, (j + 1) * lq8)
                sum0 += e0
                sum1 += e1
                j += 2
            }
            if j < n {
                let e0 = VectorMath.exp(col.load8(j * lq8) - m)
                col.store8(e0, j * lq8)
                sum0 += e0
            }
            let sum = sum0 + sum1
            inverseSum.store8(1 / sum, g)
            lse.store8(m + VectorMath.log(sum), g)
        }
        if n < n4 { (s + n * lq8).update(repeating: 0, count: (n4 - n) * lq8) }
    }

    /// Backward's elementwise step over `[n, lq8]` (rows n..<n4 set to 0): `s ← Pᵀ = e^(Sᵀ − lse)`,
    /// `dP ← dSᵀ = Pᵀ ⊙ (dPᵀ − D)`, lse and D per query (lane).
    @inline(never)
    static func probabilitiesAndScoreGradient(_ s: UnsafeMutablePointer<Float>, _ dP: UnsafeMutablePointer<Float>,
                                              n: Int, n4: Int, lq8: Int, lse: UnsafePointer<Float>, d: UnsafePointer<Float>) {
        for j in 0..<n {
            let row = s + j * lq8, dpr = dP + j * lq8
            for g in stride(from: 0, to: lq8, by: 8) {
                let pj = VectorMath.exp(row.load8(g) - lse.load8(g))
                row.store8(pj, g)
                dpr.store8(pj * (dpr.load8(g) - d.load8(g)), g)
            }
        }
        if n < n4 {
            (s + n * lq8).update(repeating: 0, count: (n4 - n) * lq8)
            (dP + n * lq8).update(repeating: 0, count: (n4 - n) * lq8)
        }
    }

    static func forward(_ p: AttentionParameters, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                        keyMask: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                        logSumExp: UnsafeMutablePointer<Float>, pool: CPUScratchPool, parallel: Bool) {
        let qa = AttentionReference.Addressing(p, p.qLayout, length: p.queryLength)
        let ka = AttentionReference.Addressing(p, p.kLayout, length: p.keyLength)
        let va = AttentionReference.Addressing(p, p.vLayout, length: p.keyLength)
        let oa = AttentionReference.Addressing(p, p.outLayout, length: p.queryLength)
        let heads = p.heads, dh = p.headDim, dh8 = round8(dh), lq = p.queryLength, lq8 = round8(lq)
        let width = heads * dh, stageWidth = heads * dh8
        forEachSample(p, pool: pool, parallel: parallel) { b, w in
            let n = w.gatherValid(p, b: b, keyMask: keyMask)
            let lse = logSumExp + b * heads * lq
            guard n > 0 else {
                for i in 0..<lq { (out + oa.at(b, i, 0)).update(repeating: 0, count: width) }
                lse.update(repeating: 0, count: heads * lq)
                return
            }
            let n4 = round4(n)
            gatherRows(rows: n, paddedRows: n4, heads: heads, dh: dh, into: w.kc) { k + ka.at(b, w.valid[$0], 0) }
            gatherRows(rows: n, paddedRows: n4, heads: heads, dh: dh, into: w.vc) { v + va.at(b, w.valid[$0], 0) }
            gatherTransposed(rows: lq, cols8: lq8, width: width, factor: p.scale, into: w.qT) { q + qa.at(b, $0, 0) }
            if b + 1 < p.batch {
                let nb = b + 1, m = keyMask.map { $0 + nb * p.keyLength }
                var sink: Float = 0
                touch(rows: p.keyLength, width: width, sink: &sink, take: { m == nil || m![$0] != 0 }) { k + ka.at(nb, $0, 0) }
                touch(rows: p.keyLength, width: width, sink: &sink, take: { m == nil || m![$0] != 0 }) { v + va.at(nb, $0, 0) }
                touch(rows: lq, width: width, sink: &sink) { q + qa.at(nb, $0, 0) }
                touch(rows: lq, width: width, sink: &sink) { UnsafePointer(out + oa.at(nb, $0, 0)) }
                w.s[0] = sink
            }
            for h in 0..<heads {
                // Sᵀ = K·(scale·Qᵀ) [n4, lq8]; Pᵀ = e^(Sᵀ − max); O·rowsum = P·V into the stage.
                SmallGemm.multiply(m: n4, columns: lq8, k: dh, a: w.kc + h * n4 * dh8, lda: dh8,
                                   b: w.qT + h * dh * lq8, ldb: lq8, c: w.s, ldc: lq8)
                softmaxColumns(w.s, n: n, n4: n4, lq8: lq8, lse: w.stat1 + h * lq8, inverseSum: w.stat2 + h * lq8)
                SmallGemm.multiply(m: lq, columns: dh8, k: n, a: w.s, lda: 1, aColumnStride: lq8,
                                   b: w.vc + h * n4 * dh8, ldb: dh8, c: w.stageQ + h * dh8, ldc: stageWidth)
                (lse + h * lq).update(from: w.stat1 + h * lq8, count: lq)
            }
            for i in 0..<lq {
                let o = out + oa.at(b, i, 0), a = w.stageQ + i * stageWidth
                for h in 0..<heads {
                    scaled(a + h * dh8, w.stat2[h * lq8 + i], into: o + h * dh, dh)
                }
            }
        }
    }

    static func backward(_ p: AttentionParameters, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                         keyMask: UnsafePointer<Float>?, out: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>,
                         dOut: UnsafePointer<Float>, dQ: UnsafeMutablePointer<Float>, dK: UnsafeMutablePointer<Float>,
                         dV: UnsafeMutablePointer<Float>, pool: CPUScratchPool, parallel: Bool) {
        let qa = AttentionReference.Addressing(p, p.qLayout, length: p.queryLength)
        let ka = AttentionReference.Addressing(p, p.kLayout, length: p.keyLength)
        let va = AttentionReference.Addressing(p, p.vLayout, length: p.keyLength)
        let oa = AttentionReference.Addressing(p, p.outLayout, length: p.queryLength)
        let heads = p.heads, dh = p.headDim, dh8 = round8(dh), lq = p.queryLength, lq8 = round8(lq), lk = p.keyLength
        let width = heads * dh, stageWidth = heads * dh8, scale = p.scale
        forEachSample(p, pool: pool, parallel: parallel) { b, w in
            let n = w.gatherValid(p, b: b, keyMask: keyMask)
            guard n > 0 else {
                for i in 0..<lq { (dQ + qa.at(b, i, 0)).update(repeating: 0, count: width) }
                for j in 0..<lk {
                    (dK + ka.at(b, j, 0)).update(repeating: 0, count: width)
                    (dV + va.at(b, j, 0)).update(repeating: 0, count: width)
                }
                return
            }
            let n4 = round4(n)
            gatherRows(rows: n, paddedRows: n4, heads: heads, dh: dh, into: w.kc) { k + ka.at(b, w.valid[$0], 0) }
            gatherRows(rows: n, paddedRows: n4, heads: heads, dh: dh, into: w.vc) { v + va.at(b, w.valid[$0], 0) }
            gatherRows(rows: lq, paddedRows: lq, heads: heads, dh: dh, into: w.qc) { q + qa.at(b, $0, 0) }
            gatherRows(rows: lq, paddedRows: lq, heads: heads, dh: dh, into: w.dOc) { dOut + oa.at(b, $0, 0) }
            gatherTransposed(rows: lq, cols8: lq8, width: width, factor: scale, into: w.qT) { q + qa.at(b, $0, 0) }
            gatherTransposed(rows: lq, cols8: lq8, width: width, factor: 1, into: w.dOT) { dOut + oa.at(b, $0, 0) }
            if b + 1 < p.batch {
                let nb = b + 1, m = keyMask.map { $0 + nb * p.keyLength }
                var sink: Float = 0
                touch(rows: lk, width: width, sink: &sink, take: { m == nil || m![$0] != 0 }) { k + ka.at(nb, $0, 0) }
                touch(rows: lk, width: width, sink: &sink, take: { m == nil || m![$0] != 0 }) { v + va.at(nb, $0, 0) }
                touch(rows: lq, width: width, sink: &sink) { q + qa.at(nb, $0, 0) }
                touch(rows: lq, width: width, sink: &sink) { out + oa.at(nb, $0, 0) }
                touch(rows: lq, width: width, sink: &sink) { dOut + oa.at(nb, $0, 0) }
                touch(rows: lq, width: width, sink: &sink) { UnsafePointer(dQ + qa.at(nb, $0, 0)) }
                touch(rows: lk, width: width, sink: &sink) { UnsafePointer(dK + ka.at(nb, $0, 0)) }
                touch(rows: lk, width: width, sink: &sink) { UnsafePointer(dV + va.at(nb, $0, 0)) }
                w.s[0] = sink
            }
            // Per head, lanes = queries: stat1 = lse, stat2 = D with D_i = dO_i·O_i as fused
            // multiply-adds in c order, as SmallGemm forms dPᵀ: with one valid key O = V
            // exactly, so dP − D is exactly 0, as in the reference. Padding queries get 0.
            let lse = logSumExp + b * heads * lq
            for h in 0..<heads {
                let l = w.stat1 + h * lq8, d = w.stat2 + h * lq8
                l.update(from: lse + h * lq, count: lq)
                for i in lq..<lq8 {
                    l[i] = 0
                    d[i] = 0
                }
            }
            for i in 0..<lq {
                let o = out + oa.at(b, i, 0)
                for h in 0..<heads {
                    let g = w.dOc + h * lq * dh8 + i * dh8, oh = o + h * dh
                    var d: Float = 0
                    for c in 0..<dh { d = d.addingProduct(g[c], oh[c]) }
                    w.stat2[h * lq8 + i] = d
                }
            }
            for h in 0..<heads {
                let qh = w.qc + h * lq * dh8, dOh = w.dOc + h * lq * dh8, kh = w.kc + h * n4 * dh8
                // Pᵀ = exp(Sᵀ − lse), dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ⊙ (dPᵀ − D).
                SmallGemm.multiply(m: n4, columns: lq8, k: dh, a: kh, lda: dh8, b: w.qT + h * dh * lq8, ldb: lq8,
                                   c: w.s, ldc: lq8)
                SmallGemm.multiply(m: n4, columns: lq8, k: dh, a: w.vc + h * n4 * dh8, lda: dh8,
                                   b: w.dOT + h * dh * lq8, ldb: lq8, c: w.dP, ldc: lq8)
                probabilitiesAndScoreGradient(w.s, w.dP, n: n, n4: n4, lq8: lq8, lse: w.stat1 + h * lq8,
                                              d: w.stat2 + h * lq8)
                // dQ/scale = dS·K (dSᵀ read transposed); dK/scale = dSᵀ·Q; dV = Pᵀ·dO.
                SmallGemm.multiply(m: lq, columns: dh8, k: n, a: w.dP, lda: 1, aColumnStride: lq8, b: kh, ldb: dh8,
                                   c: w.stageQ + h * dh8, ldc: stageWidth)
                SmallGemm.multiply(m: n4, columns: dh8, k: lq, a: w.dP, lda: lq8, b: qh, ldb: dh8,
                                   c: w.stageK + h * dh8, ldc: stageWidth)
                SmallGemm.multiply(m: n4, columns: dh8, k: lq, a: w.s, lda: lq8, b: dOh, ldb: dh8,
                                   c: w.stageV + h * dh8, ldc: stageWidth)
            }
            for i in 0..<lq {
                let dq = dQ + qa.at(b, i, 0), a = w.stageQ + i * stageWidth
                for h in 0..<heads {
                    scaled(a + h * dh8, scale, into: dq + h * dh, dh)
                }
            }
            // Every key row in order: the valid ones from the stage, masked ones 0.
            var jj = 0
            for j in 0..<lk {
                let dk = dK + ka.at(b, j, 0), dv = dV + va.at(b, j, 0)
                guard jj < n, w.valid[jj] == j else {
                    dk.update(repeating: 0, count: width)
                    dv.update(repeating: 0, count: width)
                    continue
                }
                let sk = w.stageK + jj * stageWidth, sv = w.stageV + jj * stageWidth
                for h in 0..<heads {
                    scaled(sk + h * dh8, scale, into: dk + h * dh, dh)
                    (dv + h * dh).update(from: sv + h * dh8, count: dh)
                }
                jj += 1
            }
        }
    }
}
