import CAVX512
import COpenBLAS
import Foundation

/// Float fast path of fused attention for the CPU backend (math and shapes: `AttentionOps`;
/// `AttentionReference` stays the Double reference and the spec of the summation).
///
/// On an AVX-512 host (`CPUVectorUnit`) each sample's heads run in one C call,
/// `armmt_avx512_attention_forward` / `_backward` (`Sources/CAVX512/attention.c`), with the same
/// operations in the same order as the Swift loops below, so both units give the same bits
/// (`testAttentionSameBitsUnderBothUnits`). The Swift loops are the AVX2 path.
///
/// One sample (all H heads) is one unit of work; samples are spread over cores and each writes
/// only its own rows of O, logSumExp, dQ, dK, dV, so results do not depend on the split.
///
/// At the model's shapes the arithmetic per (sample, head) is a few microseconds, so memory
/// decides the speed: a head's slice of a token row is only `dh` floats (64 bytes at dh = 16)
/// inside a row of `H·dh`. The next sample's rows are prefetched (its outputs for writing)
/// while the current one computes. Operands are read in place when dh is a multiple of 8 and
/// the valid keys are consecutive (`HeadRows`), else gathered once, whole rows in token order,
/// into per-head copies in the task's workspace. Results of all heads are staged in
/// `[rows, H·dh8]` buffers and written out row by row, whole rows in order.
///
/// Scores are kept transposed, `Sᵀ [n, Lq8]` (keys × queries, n the valid keys, Lq8 = Lq
/// rounded up to 8): the softmax over keys is then lane-wise across rows (max, exp, sum and
/// log of 8 queries at once, no horizontal reductions, no padded keys). Copies: scale·Qᵀ and
/// dOᵀ `[dh, Lq8]` always; K, V rows `[n4, dh8]` (n4 = n rounded up to 4, extra rows 0) and
/// Q, dO rows `[Lq, dh8]` (dh8 = dh rounded up to 8, padding 0) when not read in place.
/// Every product is a `SmallGemm` with an 8-wide column dimension, transposed operands read
/// in place through its column stride.
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
        let stat1, stat2: UnsafeMutablePointer<Float>  // [H, Lq8] lse and 1/rowsum (forward), lse (backward)
        let fused: UnsafeMutablePointer<Float>  // the AVX-512 kernels' work: 2·[dh, 32], 2·[n4, 32], [3, 32], [H, Lq]

        private static func sizes(_ p: AttentionParameters) -> [Int] {
            let n4 = round4(p.keyLength), lq8 = round8(p.queryLength), dh8 = round8(p.headDim), h = p.heads
            let kc = h * n4 * dh8, qc = h * p.queryLength * dh8, qT = h * p.headDim * lq8, s = n4 * lq8
            let stage = h * dh8
            let fused = (2 * p.headDim + 2 * n4 + 3) * 32 + h * p.queryLength
            return [kc, kc, qc, qc, qT, qT, s, s, p.queryLength * stage, n4 * stage, n4 * stage, h * lq8, h * lq8, fused]
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
            (stat1, stat2, fused) = (parts[11], parts[12], parts[13])
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

    /// Runs `body(b, workspace)` for every sample, spread over cores in 16 tasks per core that
    /// go to whichever core is free: samples differ in cost (masked keys), and a core slowed by
    /// other work on the machine should not hold the op up. Against 4 tasks per core, six
    /// alternating runs of the bench's default shapes gave medians of 273.9 against 312.7 µs
    /// (behaviour forward), 647.0 against 710.3 (behaviour backward), 229.8 against 252.6 (list
    /// forward) and 554.1 against 532.8 (list backward, the one slower); one task per sample was
    /// slower than both (the next sample's rows are prefetched only within a task; BENCHMARKS.md,
    /// session 15).
    static func forEachSample(_ p: AttentionParameters, pool: CPUScratchPool, parallel: Bool,
                              _ body: (Int, Workspace) -> Void) {
        let work = p.heads * p.queryLength * p.keyLength * max(p.headDim, 1) * 4
        let floats = Workspace.floats(p)
        CPUParallel.forEachRange(p.batch, workPerItem: work, parallel: parallel, tasksPerCore: 16) { range in
            let valid = UnsafeMutablePointer<Int>.allocate(capacity: max(p.keyLength, 1))
            defer { valid.deallocate() }
            pool.withBuffers([floats]) { buffers in
                let w = Workspace(p, buffers[0], valid: valid)
                for b in range { body(b, w) }
            }
        }
    }

    /// Prefetches every 64-byte line of the rows `row(r)` (`width` floats each) that `take(r)`
    /// accepts. Called for the next sample before the current one computes, so its cache misses
    /// overlap the arithmetic, where the gathers would otherwise stall on one short stream after
    /// another. (Plain loads feeding a sum did the same job but stalled the core on each miss.)
    @inline(__always)
    static func prefetch(rows: Int, width: Int, take: (Int) -> Bool = { _ in true },
                         _ row: (Int) -> UnsafePointer<Float>) {
        forEachLine(rows: rows, width: width, take: take, row) { armmt_prefetch($0) }
    }

    /// `prefetch` for rows about to be written: their lines arrive owned, so the stores of the
    /// results do not stall on them.
    @inline(__always)
    static func prefetchForWrite(rows: Int, width: Int, _ row: (Int) -> UnsafeMutablePointer<Float>) {
        forEachLine(rows: rows, width: width, take: { _ in true }, { UnsafePointer(row($0)) }) {
            armmt_prefetch_write(UnsafeMutablePointer(mutating: $0))
        }
    }

    /// `visit` at one address in every 64-byte line of the rows `row(r)` (`width` floats each)
    /// that `take(r)` accepts, the last float included.
    @inline(__always)
    private static func forEachLine(rows: Int, width: Int, take: (Int) -> Bool, _ row: (Int) -> UnsafePointer<Float>,
                                    _ visit: (UnsafePointer<Float>) -> Void) {
        for r in 0..<rows where take(r) {
            let p = row(r)
            var c = 0
            while c < width {
                visit(p + c)
                c += 16
            }
            visit(p + width - 1)
        }
    }

    /// Where an operand's head-h rows are read from: in place in the tensor (row stride `ld`,
    /// heads `dh` apart) when its rows are consecutive and dh is a multiple of 8, since
    /// `SmallGemm` reads whole 8-float vectors; else the gathered per-head copy (`ld` = dh8,
    /// heads `rows·dh8` apart). Both give the same bits: every product sums in the same order.
    struct HeadRows {
        let base: UnsafePointer<Float>
        let ld: Int
        let headStride: Int
        @inline(__always) func head(_ h: Int) -> UnsafePointer<Float> { base + h * headStride }
    }

    /// The valid keys form one run `first ..< first + n` (key masks are prefixes in practice).
    @inline(__always)
    static func keysAreConsecutive(_ w: Workspace, n: Int) -> Bool { w.valid[n - 1] - w.valid[0] == n - 1 }

    /// Transposes the 8 × 8 tile whose rows are `t.0 … t.7`. Element (r, c) sits at index
    /// 8r + c of the tile; transposing rotates that 6-bit index by 3, and one perfect unshuffle
    /// (all even elements, then all odd ones) rotates it by 1, so three unshuffles transpose.
    /// Each is 8 two-register deinterleaves, which LLVM lowers to shuffles: 48 in all, where
    /// building each column lane by lane took 64 extracts and 64 inserts.
    @inline(__always)
    static func transpose8x8(_ t: inout (Float8, Float8, Float8, Float8, Float8, Float8, Float8, Float8)) {
        for _ in 0..<3 {
            let p0 = SIMD16(lowHalf: t.0, highHalf: t.1), p1 = SIMD16(lowHalf: t.2, highHalf: t.3)
            let p2 = SIMD16(lowHalf: t.4, highHalf: t.5), p3 = SIMD16(lowHalf: t.6, highHalf: t.7)
            t = (p0.evenHalf, p1.evenHalf, p2.evenHalf, p3.evenHalf, p0.oddHalf, p1.oddHalf, p2.oddHalf, p3.oddHalf)
        }
    }

    /// `dst[r, i] = factor · row(i)[r]` for r < width (= H·dh: head h's `[dh, cols8]` block
    /// starts at row h·dh), i < rows; columns rows..<cols8 zero. Reads each row once, whole;
    /// 8 × 8 tiles are transposed in registers (`transpose8x8`) and stored as vectors (one
    /// scalar store per element cost more than the products that use the copy).
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
                var t = (s0.load8(r), s1.load8(r), s2.load8(r), s3.load8(r), s4.load8(r), s5.load8(r), s6.load8(r), s7.load8(r))
                transpose8x8(&t)
                let at = dst + r * cols8 + i
                at.store8(f * t.0, 0)
                at.store8(f * t.1, cols8)
                at.store8(f * t.2, 2 * cols8)
                at.store8(f * t.3, 3 * cols8)
                at.store8(f * t.4, 4 * cols8)
                at.store8(f * t.5, 5 * cols8)
                at.store8(f * t.6, 6 * cols8)
                at.store8(f * t.7, 7 * cols8)
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

    /// Backward's elementwise step over `[n, lq8]` (rows n..<n4 set to 0), in place:
    /// `s ← Pᵀ = e^(Sᵀ − lse)`, then per query (lane) `D = Σ_j P ⊙ dP` in key order, then
    /// `dP ← dSᵀ = Pᵀ ⊙ (dPᵀ − D)`.
    /// D is the softmax Jacobian's row term, `Σ_j P_ij·dP_ij`, which equals `dO_i·O_i`, the
    /// usual way to form it. This way reads neither O nor dO again and runs 8 queries a lane
    /// group. With one valid key P = e⁰ = 1 exactly, so D = dP and dS is exactly 0, as in the
    /// reference.
    @inline(never)
    static func probabilitiesAndScoreGradient(_ s: UnsafeMutablePointer<Float>, _ dP: UnsafeMutablePointer<Float>,
                                              n: Int, n4: Int, lq8: Int, lse: UnsafePointer<Float>) {
        for g in stride(from: 0, to: lq8, by: 8) {
            let col = s + g, dcol = dP + g, l = lse.load8(g)
            var d = Float8()
            for j in 0..<n {
                let pj = VectorMath.exp(col.load8(j * lq8) - l)
                col.store8(pj, j * lq8)
                d = d.addingProduct(pj, dcol.load8(j * lq8))
            }
            for j in 0..<n {
                dcol.store8(col.load8(j * lq8) * (dcol.load8(j * lq8) - d), j * lq8)
            }
        }
        if n < n4 {
            (s + n * lq8).update(repeating: 0, count: (n4 - n) * lq8)
            (dP + n * lq8).update(repeating: 0, count: (n4 - n) * lq8)
        }
    }

    /// The key rows from sample b's first valid key to its last (every row without a mask;
    /// none when no key is valid): the rows the kernels read, for prefetching.
    static func keySpan(_ p: AttentionParameters, b: Int, keyMask: UnsafePointer<Float>?) -> Range<Int> {
        guard let keyMask else { return 0..<p.keyLength }
        let m = keyMask + b * p.keyLength
        guard let first = (0..<p.keyLength).first(where: { m[$0] != 0 }) else { return 0..<0 }
        let last = (first..<p.keyLength).last(where: { m[$0] != 0 })!
        return first..<(last + 1)
    }

    /// The next sample's rows, which the AVX-512 forward and backward prefetch a share at a time
    /// as they compute (see `prefetchShare` in attention.c); at most seven blocks, held inline.
    struct NextSampleRows {
        private var blocks: (armmt_prefetch_rows, armmt_prefetch_rows, armmt_prefetch_rows, armmt_prefetch_rows,
                             armmt_prefetch_rows, armmt_prefetch_rows, armmt_prefetch_rows)
            = (.init(), .init(), .init(), .init(), .init(), .init(), .init())
        private var count = 0

        mutating func add(_ base: UnsafePointer<Float>, rows: Int, ld: Int, width: Int, write: Bool = false) {
            let block = armmt_prefetch_rows(base: base, rows: rows, ld: ld, width: width, write: write ? 1 : 0)
            let i = count
            withUnsafeMutableBytes(of: &blocks) { $0.bindMemory(to: armmt_prefetch_rows.self)[i] = block }
            count += 1
        }

        /// Sample nb's rows that both kernels read: its valid keys' rows of K and V (from the
        /// first valid key to the last) and its query rows of Q.
        mutating func addInputs(of nb: Int, _ p: AttentionParameters, keyMask: UnsafePointer<Float>?,
                                q: UnsafePointer<Float>, qa: AttentionReference.Addressing,
                                k: UnsafePointer<Float>, ka: AttentionReference.Addressing,
                                v: UnsafePointer<Float>, va: AttentionReference.Addressing) {
            let keys = keySpan(p, b: nb, keyMask: keyMask), width = p.heads * p.headDim
            add(k + ka.at(nb, keys.lowerBound, 0), rows: keys.count, ld: ka.rowStride, width: width)
            add(v + va.at(nb, keys.lowerBound, 0), rows: keys.count, ld: va.rowStride, width: width)
            add(q + qa.at(nb, 0, 0), rows: p.queryLength, ld: qa.rowStride, width: width)
        }

        mutating func withBlocks(_ body: (UnsafePointer<armmt_prefetch_rows>, Int) -> Void) {
            let n = count
            withUnsafeBytes(of: &blocks) { body($0.bindMemory(to: armmt_prefetch_rows.self).baseAddress!, n) }
        }
    }

    /// K and V of sample b as `HeadRows`, gathering them into the workspace unless they can be
    /// read in place; and how many rows of Sᵀ the score products write (n or n4; the copies
    /// have n4 rows, zero-padded).
    @inline(__always)
    static func keyOperands(_ p: AttentionParameters, _ w: Workspace, b: Int, n: Int,
                            k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                            ka: AttentionReference.Addressing, va: AttentionReference.Addressing) -> (HeadRows, HeadRows, Int) {
        let dh = p.headDim, dh8 = round8(dh), n4 = round4(n)
        if dh == dh8 && keysAreConsecutive(w, n: n) {
            let first = w.valid[0]
            // Score rows n..<n4 come from the masked keys after the run when the sample has them:
            // whatever they hold, those rows are set to 0 before any use, and n4 rows keep the
            // products in SmallGemm's 4-row blocks (its one-row tail is latency-bound).
            let rows = first + n4 <= p.keyLength ? n4 : n
            return (HeadRows(base: k + ka.at(b, first, 0), ld: ka.rowStride, headStride: dh),
                    HeadRows(base: v + va.at(b, first, 0), ld: va.rowStride, headStride: dh), rows)
        }
        gatherRows(rows: n, paddedRows: n4, heads: p.heads, dh: dh, into: w.kc) { k + ka.at(b, w.valid[$0], 0) }
        gatherRows(rows: n, paddedRows: n4, heads: p.heads, dh: dh, into: w.vc) { v + va.at(b, w.valid[$0], 0) }
        return (HeadRows(base: w.kc, ld: dh8, headStride: n4 * dh8), HeadRows(base: w.vc, ld: dh8, headStride: n4 * dh8), n4)
    }

    /// Every key row of sample b's dK and dV in order: a masked key's rows set to 0, the jj-th
    /// valid key's rows handed to `valid(jj, dk, dv)` to fill.
    @inline(__always)
    static func forEachKeyRow(_ p: AttentionParameters, _ w: Workspace, b: Int, n: Int,
                              dK: UnsafeMutablePointer<Float>, dV: UnsafeMutablePointer<Float>,
                              ka: AttentionReference.Addressing, va: AttentionReference.Addressing,
                              _ valid: (Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let width = p.heads * p.headDim
        var jj = 0
        for j in 0..<p.keyLength {
            let dk = dK + ka.at(b, j, 0), dv = dV + va.at(b, j, 0)
            guard jj < n, w.valid[jj] == j else {
                dk.update(repeating: 0, count: width)
                dv.update(repeating: 0, count: width)
                continue
            }
            valid(jj, dk, dv)
            jj += 1
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
            let (kr, vr, keyRows) = keyOperands(p, w, b: b, n: n, k: k, v: v, ka: ka, va: va)
            if CPUVectorUnit.current == .avx512 {
                var next = NextSampleRows()
                if b + 1 < p.batch {
                    let nb = b + 1
                    next.addInputs(of: nb, p, keyMask: keyMask, q: q, qa: qa, k: k, ka: ka, v: v, va: va)
                    next.add(out + oa.at(nb, 0, 0), rows: lq, ld: oa.rowStride, width: width, write: true)
                }
                next.withBlocks { blocks, count in
                    armmt_avx512_attention_forward(lq, n, heads, dh, p.scale, q + qa.at(b, 0, 0), qa.rowStride,
                                                   kr.base, kr.ld, kr.headStride, vr.base, vr.ld, vr.headStride,
                                                   out + oa.at(b, 0, 0), oa.rowStride, lse, w.fused, blocks, count)
                }
                return
            }
            if b + 1 < p.batch {
                let nb = b + 1, m = keyMask.map { $0 + nb * p.keyLength }
                prefetch(rows: p.keyLength, width: width, take: { m == nil || m![$0] != 0 }) { k + ka.at(nb, $0, 0) }
                prefetch(rows: p.keyLength, width: width, take: { m == nil || m![$0] != 0 }) { v + va.at(nb, $0, 0) }
                prefetch(rows: lq, width: width) { q + qa.at(nb, $0, 0) }
                prefetchForWrite(rows: lq, width: width) { out + oa.at(nb, $0, 0) }
            }
            gatherTransposed(rows: lq, cols8: lq8, width: width, factor: p.scale, into: w.qT) { q + qa.at(b, $0, 0) }
            for h in 0..<heads {
                // Sᵀ = K·(scale·Qᵀ) [keyRows, lq8]; Pᵀ = e^(Sᵀ − max); O·rowsum = P·V into the stage.
                SmallGemm.multiply(m: keyRows, columns: lq8, k: dh, a: kr.head(h), lda: kr.ld,
                                   b: w.qT + h * dh * lq8, ldb: lq8, c: w.s, ldc: lq8)
                softmaxColumns(w.s, n: n, n4: n4, lq8: lq8, lse: w.stat1 + h * lq8, inverseSum: w.stat2 + h * lq8)
                SmallGemm.multiply(m: lq, columns: dh8, k: n, a: w.s, lda: 1, aColumnStride: lq8,
                                   b: vr.head(h), ldb: vr.ld, c: w.stageQ + h * dh8, ldc: stageWidth)
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

    /// `out` is not read: D comes from P and dP (`probabilitiesAndScoreGradient`).
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
            let (kr, vr, keyRows) = keyOperands(p, w, b: b, n: n, k: k, v: v, ka: ka, va: va)
            if CPUVectorUnit.current == .avx512 {
                var next = NextSampleRows()
                if b + 1 < p.batch {
                    let nb = b + 1
                    next.addInputs(of: nb, p, keyMask: keyMask, q: q, qa: qa, k: k, ka: ka, v: v, va: va)
                    next.add(dOut + oa.at(nb, 0, 0), rows: lq, ld: oa.rowStride, width: width)
                    next.add(dQ + qa.at(nb, 0, 0), rows: lq, ld: qa.rowStride, width: width, write: true)
                    next.add(dK + ka.at(nb, 0, 0), rows: lk, ld: ka.rowStride, width: width, write: true)
                    next.add(dV + va.at(nb, 0, 0), rows: lk, ld: va.rowStride, width: width, write: true)
                }
                // The valid keys' dK, dV rows in place when they are one run, else in the stage.
                let first = w.valid[0], run = keysAreConsecutive(w, n: n)
                let dKRows = run ? dK + ka.at(b, first, 0) : w.stageK, dVRows = run ? dV + va.at(b, first, 0) : w.stageV
                next.withBlocks { blocks, count in
                    armmt_avx512_attention_backward(lq, n, heads, dh, scale, q + qa.at(b, 0, 0), qa.rowStride,
                                                    dOut + oa.at(b, 0, 0), oa.rowStride, kr.base, kr.ld, kr.headStride,
                                                    vr.base, vr.ld, vr.headStride, logSumExp + b * heads * lq,
                                                    dQ + qa.at(b, 0, 0), qa.rowStride, dKRows, run ? ka.rowStride : width,
                                                    dVRows, run ? va.rowStride : width, w.fused, blocks, count)
                }
                forEachKeyRow(p, w, b: b, n: n, dK: dK, dV: dV, ka: ka, va: va) { jj, dk, dv in
                    guard !run else { return }
                    dk.update(from: w.stageK + jj * width, count: width)
                    dv.update(from: w.stageV + jj * width, count: width)
                }
                return
            }
            if b + 1 < p.batch {
                let nb = b + 1, m = keyMask.map { $0 + nb * p.keyLength }
                prefetch(rows: lk, width: width, take: { m == nil || m![$0] != 0 }) { k + ka.at(nb, $0, 0) }
                prefetch(rows: lk, width: width, take: { m == nil || m![$0] != 0 }) { v + va.at(nb, $0, 0) }
                prefetch(rows: lq, width: width) { q + qa.at(nb, $0, 0) }
                prefetch(rows: lq, width: width) { dOut + oa.at(nb, $0, 0) }
                prefetchForWrite(rows: lq, width: width) { dQ + qa.at(nb, $0, 0) }
                prefetchForWrite(rows: lk, width: width) { dK + ka.at(nb, $0, 0) }
                prefetchForWrite(rows: lk, width: width) { dV + va.at(nb, $0, 0) }
            }
            let qr: HeadRows, dOr: HeadRows
            if dh == dh8 {
                qr = HeadRows(base: q + qa.at(b, 0, 0), ld: qa.rowStride, headStride: dh)
                dOr = HeadRows(base: dOut + oa.at(b, 0, 0), ld: oa.rowStride, headStride: dh)
            } else {
                gatherRows(rows: lq, paddedRows: lq, heads: heads, dh: dh, into: w.qc) { q + qa.at(b, $0, 0) }
                gatherRows(rows: lq, paddedRows: lq, heads: heads, dh: dh, into: w.dOc) { dOut + oa.at(b, $0, 0) }
                qr = HeadRows(base: w.qc, ld: dh8, headStride: lq * dh8)
                dOr = HeadRows(base: w.dOc, ld: dh8, headStride: lq * dh8)
            }
            gatherTransposed(rows: lq, cols8: lq8, width: width, factor: scale, into: w.qT) { q + qa.at(b, $0, 0) }
            gatherTransposed(rows: lq, cols8: lq8, width: width, factor: 1, into: w.dOT) { dOut + oa.at(b, $0, 0) }
            // Per head, lanes = queries: stat1 = lse; padding queries get 0.
            let lse = logSumExp + b * heads * lq
            for h in 0..<heads {
                let l = w.stat1 + h * lq8
                l.update(from: lse + h * lq, count: lq)
                for i in lq..<lq8 { l[i] = 0 }
            }
            for h in 0..<heads {
                // Pᵀ = exp(Sᵀ − lse), dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ⊙ (dPᵀ − D).
                SmallGemm.multiply(m: keyRows, columns: lq8, k: dh, a: kr.head(h), lda: kr.ld,
                                   b: w.qT + h * dh * lq8, ldb: lq8, c: w.s, ldc: lq8)
                SmallGemm.multiply(m: keyRows, columns: lq8, k: dh, a: vr.head(h), lda: vr.ld,
                                   b: w.dOT + h * dh * lq8, ldb: lq8, c: w.dP, ldc: lq8)
                probabilitiesAndScoreGradient(w.s, w.dP, n: n, n4: n4, lq8: lq8, lse: w.stat1 + h * lq8)
                // dQ/scale = dS·K (dSᵀ read transposed); dK/scale = dSᵀ·Q; dV = Pᵀ·dO.
                SmallGemm.multiply(m: lq, columns: dh8, k: n, a: w.dP, lda: 1, aColumnStride: lq8,
                                   b: kr.head(h), ldb: kr.ld, c: w.stageQ + h * dh8, ldc: stageWidth)
                SmallGemm.multiply(m: n4, columns: dh8, k: lq, a: w.dP, lda: lq8, b: qr.head(h), ldb: qr.ld,
                                   c: w.stageK + h * dh8, ldc: stageWidth)
                SmallGemm.multiply(m: n4, columns: dh8, k: lq, a: w.s, lda: lq8, b: dOr.head(h), ldb: dOr.ld,
                                   c: w.stageV + h * dh8, ldc: stageWidth)
            }
            for i in 0..<lq {
                let dq = dQ + qa.at(b, i, 0), a = w.stageQ + i * stageWidth
                for h in 0..<heads {
                    scaled(a + h * dh8, scale, into: dq + h * dh, dh)
                }
            }
            forEachKeyRow(p, w, b: b, n: n, dK: dK, dV: dV, ka: ka, va: va) { jj, dk, dv in
                let sk = w.stageK + jj * stageWidth, sv = w.stageV + jj * stageWidth
                for h in 0..<heads {
                    scaled(sk + h * dh8, scale, into: dk + h * dh, dh)
                    (dv + h * dh).update(from: sv + h * dh8, count: dh)
                }
            }
        }
    }
}
