import CAVX512
import Foundation

/// Float fast path of the CAFU gate for the CPU backend. Same math as `CAFUReference` (the
/// Double reference), reorganised for the cache: items are cut into fixed blocks of
/// `blockRows`, and each block runs the whole chain (pooling, the first layer's GEMMs, bias +
/// ReLU, the gate logits, the masked softmax, r; in the backward dα, ds, the GEMMs of dW1 and
/// [dz ⊕ dk], dx) while its rows are still in L2, instead of one pass over all N items per
/// step, each streaming megabytes through memory. The forward's first layer is one product
/// [z ⊕ k]·W1ᵀ (`BlockGemm.multiplyConcatenated`); for the scalar gate on AVX-512 that product
/// and everything after it are one kernel that takes each register tile of rows on to r
/// (`armmt_avx512_cafu_scalar_forward`). The backward reads the context in place
/// (dW1 = dsᵀ·[z ⊕ k] as two GEMMs into the two column ranges of dW1) and writes dk straight
/// into dContext.
///
/// Blocks are spread over cores. Block boundaries are multiples of `blockRows` from item 0
/// whatever the number of threads, so every GEMM sees the same operands; weight gradients are
/// summed per block into its own partial, and the partials are added in block order, so results
/// are bit-identical for any thread count, serial included.
enum CAFUFastPath {
    /// Rows per block: a block's x, context, z, hiddenPre, ds and dz (about 0.5 MB at the
    /// model's sizes) stay in one core's L2 while the GEMMs are long enough to run near peak.
    static let blockRows = 256

    /// Up to these sizes the scalar gate's forward after pooling runs fused per register tile on
    /// AVX-512 (`armmt_avx512_cafu_scalar_forward`): a tile's accumulators hold a row's whole
    /// hidden layer (four vectors), and a row's logits fit in one vector.
    static let fusedMaxHidden = 64, fusedMaxModalities = 16

    /// The gate's second layer and its gradient are written out as per-row dot products and
    /// outer products up to this many gate rows (the scalar gate: G = M); above it, GEMMs.
    static let inlineGateRows = 8

    /// z = mean of the present modalities (0 when none), rows `i0..<i0 + rows`, into `u` with row
    /// stride `ld`. Absent modality vectors are never read.
    @inline(__always)
    static func poolBlock(_ p: CAFUParameters, i0: Int, rows: Int, x: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                          into u: UnsafeMutablePointer<Float>, ld: Int) {
        let m = p.modalities, d = p.width
        for r in 0..<rows {
            let i = i0 + r, zr = u + r * ld
            var count = 0
            for mm in 0..<m where mask[i * m + mm] != 0 {
                let xm = x + (i * m + mm) * d
                if count == 0 { zr.update(from: xm, count: d) } else { RowVectors.add(xm, into: zr, count: d) }
                count += 1
            }
            if count == 0 { zr.update(repeating: 0, count: d) }
            if count > 1 { RowVectors.scale(zr, by: 1 / Float(count), into: zr, count: d) }
        }
    }

    /// Runs `body(blockIndex, i0, rows, scratch)` for every block, with `floatsPerTask` floats of
    /// scratch per task. Each block is its own task, handed to whichever core is free: with one
    /// range of blocks per core, a core slowed by other work on the machine held the whole op
    /// up. At the bench's default shape the medians of seven alternating runs were forward
    /// 823.4 µs (a range per core) against 720.7 µs (a task per block), backward 1827.4 against
    /// 1489.8 µs (BENCHMARKS.md, session 15).
    static func forEachBlock(_ p: CAFUParameters, floatsPerTask: Int, scratch: CPUScratchPool, parallel: Bool,
                             _ body: (Int, Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        let n = p.items, blocks = (n + blockRows - 1) / blockRows
        CPUParallel.forEachRange(blocks, workPerItem: blockRows * p.inputWidth * p.hidden, parallel: parallel,
                                 tasksPerCore: blocks) { range in
            scratch.withBuffers([floatsPerTask]) { b in
                for blk in range {
                    let i0 = blk * blockRows
                    body(blk, i0, min(blockRows, n - i0), b[0])
                }
            }
        }
    }

    static func forward(_ p: CAFUParameters, x: UnsafePointer<Float>, mask: UnsafePointer<Float>, context: UnsafePointer<Float>,
                        w1: UnsafePointer<Float>, b1: UnsafePointer<Float>, w2: UnsafePointer<Float>, b2: UnsafePointer<Float>,
                        r: UnsafeMutablePointer<Float>, alpha: UnsafeMutablePointer<Float>,
                        hiddenPre: UnsafeMutablePointer<Float>, scratch: CPUScratchPool, parallel: Bool) {
        let n = p.items, m = p.modalities, d = p.width, h = p.hidden, k = p.inputWidth
        let g = p.gateRows, dg = p.gateWidth, bR = blockRows
        guard n > 0 else { return }
        let wide = CPUVectorUnit.current == .avx512, inlineRows = g <= inlineGateRows ? g : 0
        let fusedScalarGate = wide && p.gate == .scalar && h <= fusedMaxHidden && m <= fusedMaxModalities
        // W1ᵀ [k, h] and W2ᵀ [h, g], once per call, so every block's products have B row-major.
        let w1T = BlockGemm.transposed(w1, rows: h, columns: k)
        let w2T = g > inlineGateRows && !fusedScalarGate ? BlockGemm.transposed(w2, rows: g, columns: h) : nil
        defer {
            w1T.deallocate()
            w2T?.deallocate()
        }
        forEachBlock(p, floatsPerTask: bR * (k + h + g), scratch: scratch, parallel: parallel) { _, i0, rows, buffer in
            let u = buffer, relu = u + bR * k, logits = relu + bR * h
            poolBlock(p, i0: i0, rows: rows, x: x, mask: mask, into: u, ld: k)
            let hp = hiddenPre + i0 * h
            if fusedScalarGate {
                armmt_avx512_cafu_scalar_forward(rows, m, d, p.contextWidth, h, u, k, context + i0 * p.contextWidth, p.contextWidth,
                                                 w1T, b1, w2, b2, mask + i0 * m, x + i0 * m * d, hp, alpha + i0 * m, r + i0 * d)
                return
            }
            // On AVX-512 the product lands in the block's buffer, so hp is written once (streamed).
            BlockGemm.multiplyConcatenated(m: rows, n: h, k1: d, a1: u, lda1: k, k2: p.contextWidth,
                                           a2: context + i0 * p.contextWidth, lda2: p.contextWidth, b: w1T, ldb: h,
                                           c: wide ? relu : hp, ldc: h)
            if wide {
                armmt_avx512_cafu_hidden(rows, h, inlineRows, relu, b1, w2, hp, logits)
            } else {
                biasReLURows(rows, h: h, gateRows: inlineRows, hp: hp, b1: b1, w2: w2, relu: relu, logits: logits)
            }
            if g > inlineGateRows {
                BlockGemm.multiply(transA: false, m: rows, n: g, k: h, a: relu, lda: h, b: w2T!, ldb: g, c: logits, ldc: g)
            }
            // Masked softmax over modalities per gate column c: logits become a + b2 − max (−∞
            // for absent modalities), then e^· over the whole block at once, then normalised.
            for rr in 0..<rows {
                let lg = logits + rr * g, mk = mask + (i0 + rr) * m
                for c in 0..<dg {
                    var top = -Float.infinity
                    for mm in 0..<m where mk[mm] != 0 { top = max(top, lg[mm * dg + c] + b2[mm * dg + c]) }
                    for mm in 0..<m {
                        lg[mm * dg + c] = mk[mm] != 0 ? lg[mm * dg + c] + b2[mm * dg + c] - top : -.infinity
                    }
                }
            }
            RowVectors.expInPlace(logits, count: rows * g)
            for rr in 0..<rows {
                let i = i0 + rr, lg = logits + rr * g, al = alpha + i * m * dg
                for c in 0..<dg {
                    var sum: Float = 0
                    for mm in 0..<m { sum += lg[mm * dg + c] }
                    let inv: Float = sum > 0 ? 1 / sum : 0
                    for mm in 0..<m { al[mm * dg + c] = lg[mm * dg + c] * inv }
                }
            }
            if wide {
                armmt_avx512_cafu_mix(rows, m, d, dg, mask + i0 * m, alpha + i0 * m * dg, x + i0 * m * d, r + i0 * d)
                return
            }
            for rr in 0..<rows {
                let i = i0 + rr, mk = mask + i * m, al = alpha + i * m * dg, out = r + i * d
                var first = true
                for mm in 0..<m where mk[mm] != 0 {
                    let xm = x + (i * m + mm) * d, am = al + mm * dg
                    if dg == 1 {
                        if first { RowVectors.scale(xm, by: am[0], into: out, count: d) } else { RowVectors.addScaled(xm, by: am[0], into: out, count: d) }
                    } else if first {
                        for j in 0..<d { out[j] = am[j] * xm[j] }
                    } else {
                        for j in 0..<d { out[j] = out[j].addingProduct(am[j], xm[j]) }
                    }
                    first = false
                }
                if first { out.update(repeating: 0, count: d) }
            }
        }
    }

    /// hp = hp + b1 and relu = ReLU(hp) over `rows` rows; with gateRows > 0 also the gate logits
    /// ReLU(hp)·w2[c] for c < gateRows, written out as dot products (the scalar gate's two rows).
    @inline(__always)
    static func biasReLURows(_ rows: Int, h: Int, gateRows g: Int, hp: UnsafeMutablePointer<Float>, b1: UnsafePointer<Float>,
                             w2: UnsafePointer<Float>, relu: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>) {
        for rr in 0..<rows {
            let hr = hp + rr * h, rl = relu + rr * h
            var j = 0
            while j + 8 <= h {
                let v = hr.load8(j) + b1.load8(j)
                hr.store8(v, j)
                rl.store8(Float8().replacing(with: v, where: v .> 0), j)
                j += 8
            }
            while j < h {
                let v = hr[j] + b1[j]
                hr[j] = v
                rl[j] = v > 0 ? v : 0
                j += 1
            }
            let lg = logits + rr * g
            for c in 0..<g { lg[c] = RowVectors.dot(rl, w2 + c * h, count: h) }
        }
    }

    static func backward(_ p: CAFUParameters, dr: UnsafePointer<Float>, dAlpha: UnsafePointer<Float>?, x: UnsafePointer<Float>,
                         mask: UnsafePointer<Float>, context: UnsafePointer<Float>, w1: UnsafePointer<Float>,
                         w2: UnsafePointer<Float>, alpha: UnsafePointer<Float>, hiddenPre: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>, dContext: UnsafeMutablePointer<Float>, dW1: UnsafeMutablePointer<Float>,
                         db1: UnsafeMutablePointer<Float>, dW2: UnsafeMutablePointer<Float>, db2: UnsafeMutablePointer<Float>,
                         scratch: CPUScratchPool, parallel: Bool) {
        let n = p.items, d = p.width, h = p.hidden, k = p.inputWidth, g = p.gateRows
        guard n > 0 else {
            dW1.update(repeating: 0, count: h * k)
            db1.update(repeating: 0, count: h)
            dW2.update(repeating: 0, count: g * h)
            db2.update(repeating: 0, count: g)
            return
        }
        // Per block partial sums [dW1 | db1 | dW2 | db2]; one block writes the outputs directly.
        let blocks = (n + blockRows - 1) / blockRows
        let pw = h * k + h + g * h + g
        let bR = blockRows
        scratch.withBuffers([blocks > 1 ? blocks * pw : 1]) { pb in
            let partials = pb[0]
            forEachBlock(p, floatsPerTask: bR * (2 * d + 2 * h + g) + p.modalities, scratch: scratch, parallel: parallel) { blk, i0, rows, buffer in
                let base = partials + blk * pw
                let out = blocks > 1 ? (base, base + h * k, base + h * k + h, base + h * k + h + g * h) : (dW1, db1, dW2, db2)
                backwardBlock(p, i0: i0, rows: rows, buffer: buffer, dr: dr, dAlpha: dAlpha, x: x, mask: mask, context: context,
                              w1: w1, w2: w2, alpha: alpha, hiddenPre: hiddenPre, dx: dx, dContext: dContext,
                              dW1: out.0, db1: out.1, dW2: out.2, db2: out.3)
            }
            guard blocks > 1 else { return }
            // out[j] = Σ_blocks partial[j], block order fixed; columns split over cores, each
            // range summed a block at a time so the adds run along contiguous rows.
            let sums = UnsafeMutablePointer<Float>.allocate(capacity: pw)
            defer { sums.deallocate() }
            CPUParallel.forEachRange(pw, workPerItem: blocks, parallel: parallel) { range in
                let dst = sums + range.lowerBound
                dst.update(from: partials + range.lowerBound, count: range.count)
                for b in 1..<blocks { RowVectors.add(partials + b * pw + range.lowerBound, into: dst, count: range.count) }
            }
            dW1.update(from: sums, count: h * k)
            db1.update(from: sums + h * k, count: h)
            dW2.update(from: sums + h * k + h, count: g * h)
            db2.update(from: sums + h * k + h + g * h, count: g)
        }
    }

    /// The backward of rows `i0..<i0 + rows`: writes their dx and dContext rows, and the block's
    /// sums of dW1, db1, dW2, db2 (overwritten).
    static func backwardBlock(_ p: CAFUParameters, i0: Int, rows: Int, buffer: UnsafeMutablePointer<Float>,
                              dr: UnsafePointer<Float>, dAlpha: UnsafePointer<Float>?, x: UnsafePointer<Float>,
                              mask: UnsafePointer<Float>, context: UnsafePointer<Float>, w1: UnsafePointer<Float>,
                              w2: UnsafePointer<Float>, alpha: UnsafePointer<Float>, hiddenPre: UnsafePointer<Float>,
                              dx: UnsafeMutablePointer<Float>, dContext: UnsafeMutablePointer<Float>, dW1: UnsafeMutablePointer<Float>,
                              db1: UnsafeMutablePointer<Float>, dW2: UnsafeMutablePointer<Float>, db2: UnsafeMutablePointer<Float>) {
        let m = p.modalities, d = p.width, dc = p.contextWidth, h = p.hidden, k = p.inputWidth
        let g = p.gateRows, dg = p.gateWidth, bR = blockRows
        let z = buffer, dz = z + bR * d, relu = dz + bR * d, dS = relu + bR * h, dA = dS + bR * h, grad = dA + bR * g
        let inline = g <= inlineGateRows
        db1.update(repeating: 0, count: h)
        db2.update(repeating: 0, count: g)
        if inline { dW2.update(repeating: 0, count: g * h) }

        gateBackwardRows(p, i0: i0, rows: rows, inline: inline, dr: dr, dAlpha: dAlpha, x: x, mask: mask, w2: w2,
                         alpha: alpha, hiddenPre: hiddenPre, dA: dA, grad: grad, relu: relu, dS: dS, db1: db1, db2: db2, dW2: dW2)
        if !inline {
            BlockGemm.multiply(transA: false, m: rows, n: h, k: g, a: dA, lda: g, b: w2, ldb: h, c: dS, ldc: h)
            for rr in 0..<rows { reluMaskAndSum(dS + rr * h, hiddenPre + (i0 + rr) * h, db1, h) }
            BlockGemm.multiply(transA: true, m: g, n: h, k: rows, a: dA, lda: g, b: relu, ldb: h, c: dW2, ldc: h)
        }
        // dW1 = dsᵀ·[z ⊕ k]; [dz ⊕ dk] = ds·W1 (dk straight into dContext).
        poolBlock(p, i0: i0, rows: rows, x: x, mask: mask, into: z, ld: d)
        BlockGemm.multiply(transA: true, m: h, n: d, k: rows, a: dS, lda: h, b: z, ldb: d, c: dW1, ldc: k)
        BlockGemm.multiply(transA: false, m: rows, n: d, k: h, a: dS, lda: h, b: w1, ldb: k, c: dz, ldc: d)
        if dc > 0 {
            BlockGemm.multiply(transA: true, m: h, n: dc, k: rows, a: dS, lda: h, b: context + i0 * dc, ldb: dc,
                               c: dW1 + d, ldc: k)
            BlockGemm.multiply(transA: false, m: rows, n: dc, k: h, a: dS, lda: h, b: w1 + d, ldb: k,
                               c: dContext + i0 * dc, ldc: dc)
        }
        // dx_m = α_m ⊙ dr + (p_m / P)·dz; 0 for absent modalities.
        if CPUVectorUnit.current == .avx512 {
            armmt_avx512_cafu_dx(rows, m, d, dg, mask + i0 * m, alpha + i0 * m * dg, dr + i0 * d, dz, dx + i0 * m * d)
            return
        }
        for rr in 0..<rows {
            let i = i0 + rr, mk = mask + i * m, dri = dr + i * d, dzr = dz + rr * d
            var count = 0
            for mm in 0..<m where mk[mm] != 0 { count += 1 }
            let share: Float = count > 0 ? 1 / Float(count) : 0
            for mm in 0..<m {
                let dxm = dx + (i * m + mm) * d, am = alpha + (i * m + mm) * dg
                if mk[mm] == 0 {
                    dxm.update(repeating: 0, count: d)
                } else if dg == 1 {
                    RowVectors.scale(dzr, by: share, into: dxm, count: d)
                    RowVectors.addScaled(dri, by: am[0], into: dxm, count: d)
                } else {
                    for j in 0..<d { dxm[j] = am[j] * dri[j] + share * dzr[j] }
                }
            }
        }
    }

    /// The gate's part of the backward, rows `i0..<i0 + rows`: dA, db2, relu, and with `inline`
    /// ds, db1, dW2. (A 16-wide C version of this loop was 10–22% slower for the whole op in
    /// the kernel bench: the rows stream from memory, and these loops wait on them either way.)
    @inline(__always)
    static func gateBackwardRows(_ p: CAFUParameters, i0: Int, rows: Int, inline: Bool, dr: UnsafePointer<Float>,
                                 dAlpha: UnsafePointer<Float>?, x: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                                 w2: UnsafePointer<Float>, alpha: UnsafePointer<Float>, hiddenPre: UnsafePointer<Float>,
                                 dA: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>, relu: UnsafeMutablePointer<Float>,
                                 dS: UnsafeMutablePointer<Float>, db1: UnsafeMutablePointer<Float>, db2: UnsafeMutablePointer<Float>,
                                 dW2: UnsafeMutablePointer<Float>) {
        let m = p.modalities, d = p.width, h = p.hidden, g = p.gateRows, dg = p.gateWidth
        for rr in 0..<rows {
            let i = i0 + rr, mk = mask + i * m, al = alpha + i * m * dg, dri = dr + i * d, da = dA + rr * g
            // da = α(γ − Σ α γ), γ = ∂L/∂α (through r, plus dAlpha).
            for c in 0..<dg {
                var s: Float = 0
                for mm in 0..<m {
                    var gm: Float = dAlpha.map { $0[(i * m + mm) * dg + c] } ?? 0
                    if mk[mm] != 0 {
                        let xm = x + (i * m + mm) * d
                        gm += dg == 1 ? RowVectors.dot(dri, xm, count: d) : dri[c] * xm[c]
                    }
                    grad[mm] = gm
                    s += al[mm * dg + c] * gm
                }
                for mm in 0..<m { da[mm * dg + c] = al[mm * dg + c] * (grad[mm] - s) }
            }
            for c in 0..<g { db2[c] += da[c] }
            let hp = hiddenPre + i * h, rl = relu + rr * h, ds = dS + rr * h
            var j = 0
            while j + 8 <= h {
                let v = hp.load8(j); rl.store8(Float8().replacing(with: v, where: v .> 0), j)
                j += 8
            }
            while j < h { rl[j] = hp[j] > 0 ? hp[j] : 0; j += 1 }
            if inline {
                // ds = (W2ᵀ·da) ⊙ [s > 0]; dW2 += da ⊗ ReLU(s); db1 += ds.
                RowVectors.scale(w2, by: da[0], into: ds, count: h)
                for c in 1..<max(g, 1) { RowVectors.addScaled(w2 + c * h, by: da[c], into: ds, count: h) }
                reluMaskAndSum(ds, hp, db1, h)
                for c in 0..<g { RowVectors.addScaled(rl, by: da[c], into: dW2 + c * h, count: h) }
            }
        }
    }

    /// ds ← ds ⊙ [s > 0], and sum += ds.
    @inline(__always)
    static func reluMaskAndSum(_ ds: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ sum: UnsafeMutablePointer<Float>, _ h: Int) {
        var j = 0
        while j + 8 <= h {
            let v = Float8().replacing(with: ds.load8(j), where: s.load8(j) .> 0)
            ds.store8(v, j)
            sum.store8(sum.load8(j) + v, j)
            j += 8
        }
        while j < h {
            let v: Float = s[j] > 0 ? ds[j] : 0
            ds[j] = v
            sum[j] += v
            j += 1
        }
    }
}
