import Foundation

/// CPU reference of fused multi-head attention (math and shapes: `AttentionOps`).
///
/// Work is split over (b, h) pairs; each pair is computed by one task with a small scratch
/// (its valid keys' K and V transposed to `[dh, nValid]`, and one row of scores) that stays
/// in cache, so the `[Lq, Lk]` score matrix is never materialised. Every output element is
/// written by exactly one task with sums in a fixed order, so results do not depend on the
/// number of threads.
public enum AttentionReference {
    /// Element offsets of the head slices of one operand.
    struct Addressing {
        let base: Int
        let rowStride: Int
        let headDim: Int
        let length: Int

        init(_ p: AttentionParameters, _ l: AttentionLayout, length: Int) {
            base = l.offset
            rowStride = p.rowStride(l)
            headDim = p.headDim
            self.length = length
        }

        /// Start of token `i` of sample `b`, head `h`.
        @inline(__always) func at(_ b: Int, _ i: Int, _ h: Int) -> Int { base + (b * length + i) * rowStride + h * headDim }
    }

    /// Per-task scratch, allocated once per task rather than per row.
    final class Scratch<T: ReferenceScalar> {
        let keysT: UnsafeMutablePointer<T>    // [dh, nValid] scaled keys of the valid positions
        let valuesT: UnsafeMutablePointer<T>  // [dh, nValid]
        let row: UnsafeMutablePointer<T>      // [Lk] scores / probabilities of one query
        let row2: UnsafeMutablePointer<T>     // [Lk] dP of one query (backward)
        let valid: UnsafeMutablePointer<Int>  // [Lk] indices of the valid keys

        init(_ p: AttentionParameters) {
            let n = p.keyLength * p.headDim
            keysT = .allocate(capacity: n)
            valuesT = .allocate(capacity: n)
            row = .allocate(capacity: p.keyLength)
            row2 = .allocate(capacity: p.keyLength)
            valid = .allocate(capacity: p.keyLength)
        }

        deinit {
            keysT.deallocate(); valuesT.deallocate(); row.deallocate(); row2.deallocate(); valid.deallocate()
        }

        /// Gathers the valid keys of sample b, head h, transposed (keys pre-multiplied by
        /// `scale`); returns how many there are.
        func gather(_ p: AttentionParameters, b: Int, h: Int, k: UnsafePointer<T>, v: UnsafePointer<T>,
                    keyMask: UnsafePointer<T>?, withValues: Bool) -> Int {
            let ka = Addressing(p, p.kLayout, length: p.keyLength)
            let va = Addressing(p, p.vLayout, length: p.keyLength)
            var n = 0
            for j in 0..<p.keyLength where keyMask == nil || keyMask![b * p.keyLength + j] != 0 {
                valid[n] = j
                n += 1
            }
            let dh = p.headDim, scale = T(p.scale)
            for jj in 0..<n {
                let kr = k + ka.at(b, valid[jj], h)
                for c in 0..<dh { keysT[c * n + jj] = scale * kr[c] }
                if withValues {
                    let vr = v + va.at(b, valid[jj], h)
                    for c in 0..<dh { valuesT[c * n + jj] = vr[c] }
                }
            }
            return n
        }

        /// `row[jj] = Σ_c x[c] · M[c, jj]` for a transposed `[dh, n]` matrix (vectorises over jj).
        @inline(__always) func rowTimes(_ x: UnsafePointer<T>, _ m: UnsafeMutablePointer<T>, n: Int, dh: Int,
                                        into out: UnsafeMutablePointer<T>) {
            for jj in 0..<n { out[jj] = 0 }
            for c in 0..<dh {
                let xc = x[c], mc = m + c * n
                for jj in 0..<n { out[jj] += xc * mc[jj] }
            }
        }
    }

    /// Runs `body(b, h, scratch)` for every (b, h), in parallel when `parallel` and the work is
    /// worth it; each task gets its own scratch.
    static func forEachHead<T: ReferenceScalar>(_ p: AttentionParameters, parallel: Bool,
                                                _ body: (Int, Int, Scratch<T>) -> Void) {
        let pairs = p.batch * p.heads
        let work = Double(pairs) * Double(p.queryLength) * Double(p.keyLength) * Double(p.headDim)
        let tasks = parallel && work > 1e5 ? min(pairs, ProcessInfo.processInfo.activeProcessorCount * 4) : 1
        if tasks <= 1 {
            let s = Scratch<T>(p)
            for bh in 0..<pairs { body(bh / p.heads, bh % p.heads, s) }
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: tasks) { t in
                let s = Scratch<T>(p)
                for bh in (pairs * t / tasks)..<(pairs * (t + 1) / tasks) { body(bh / p.heads, bh % p.heads, s) }
            }
        }
    }

    /// Forward: `out` and `logSumExp` (see `AttentionOps.attentionForward`). Shapes are not
    /// checked here; callers validate with `AttentionParameters.validateForward`.
    public static func forward<T: ReferenceScalar>(_ p: AttentionParameters, q: UnsafePointer<T>, k: UnsafePointer<T>,
                                                   v: UnsafePointer<T>, keyMask: UnsafePointer<T>?,
                                                   out: UnsafeMutablePointer<T>, logSumExp: UnsafeMutablePointer<T>,
                                                   parallel: Bool = false) {
        let qa = Addressing(p, p.qLayout, length: p.queryLength)
        let oa = Addressing(p, p.outLayout, length: p.queryLength)
        let va = Addressing(p, p.vLayout, length: p.keyLength)
        let dh = p.headDim, lq = p.queryLength
        forEachHead(p, parallel: parallel) { (b: Int, h: Int, s: Scratch<T>) in
            let n = s.gather(p, b: b, h: h, k: k, v: v, keyMask: keyMask, withValues: false)
            let lse = logSumExp + (b * p.heads + h) * lq
            for i in 0..<lq {
                let o = out + oa.at(b, i, h)
                guard n > 0 else {
                    for c in 0..<dh { o[c] = 0 }
                    lse[i] = 0
                    continue
                }
                s.rowTimes(q + qa.at(b, i, h), s.keysT, n: n, dh: dh, into: s.row)
                var m = s.row[0]
                for jj in 1..<n where s.row[jj] > m { m = s.row[jj] }
                var sum: T = 0
                for jj in 0..<n {
                    let e = T.exp(s.row[jj] - m)
                    s.row[jj] = e
                    sum += e
                }
                // Row-wise axpy over the value rows (vectorises over c; no reduction chain).
                for c in 0..<dh { o[c] = 0 }
                for jj in 0..<n {
                    let pj = s.row[jj], vr = v + va.at(b, s.valid[jj], h)
                    for c in 0..<dh { o[c] += pj * vr[c] }
                }
                let inv = 1 / sum
                for c in 0..<dh { o[c] *= inv }
                lse[i] = m + T.log(sum)
            }
        }
    }

    /// Backward: writes `dQ`, `dK`, `dV` (see `AttentionOps.attentionBackward`).
    public static func backward<T: ReferenceScalar>(_ p: AttentionParameters, q: UnsafePointer<T>, k: UnsafePointer<T>,
                                                    v: UnsafePointer<T>, keyMask: UnsafePointer<T>?,
                                                    out: UnsafePointer<T>, logSumExp: UnsafePointer<T>,
                                                    dOut: UnsafePointer<T>, dQ: UnsafeMutablePointer<T>,
                                                    dK: UnsafeMutablePointer<T>, dV: UnsafeMutablePointer<T>,
                                                    parallel: Bool = false) {
        let qa = Addressing(p, p.qLayout, length: p.queryLength)
        let ka = Addressing(p, p.kLayout, length: p.keyLength)
        let va = Addressing(p, p.vLayout, length: p.keyLength)
        let oa = Addressing(p, p.outLayout, length: p.queryLength)
        let dh = p.headDim, lq = p.queryLength, scale = T(p.scale)
        forEachHead(p, parallel: parallel) { (b: Int, h: Int, s: Scratch<T>) in
            for j in 0..<p.keyLength {
                let dk = dK + ka.at(b, j, h), dv = dV + va.at(b, j, h)
                for c in 0..<dh { dk[c] = 0; dv[c] = 0 }
            }
            let n = s.gather(p, b: b, h: h, k: k, v: v, keyMask: keyMask, withValues: true)
            let lse = logSumExp + (b * p.heads + h) * lq
            for i in 0..<lq {
                let dq = dQ + qa.at(b, i, h)
                for c in 0..<dh { dq[c] = 0 }
                guard n > 0 else { continue }
                let qi = q + qa.at(b, i, h), doi = dOut + oa.at(b, i, h), oi = out + oa.at(b, i, h)
                var d: T = 0
                for c in 0..<dh { d += doi[c] * oi[c] }
                s.rowTimes(qi, s.keysT, n: n, dh: dh, into: s.row)
                s.rowTimes(doi, s.valuesT, n: n, dh: dh, into: s.row2)
                let l = lse[i]
                for jj in 0..<n {
                    let pj = T.exp(s.row[jj] - l)
                    let ds = pj * (s.row2[jj] - d)
                    let j = s.valid[jj]
                    let kj = k + ka.at(b, j, h)
                    let dk = dK + ka.at(b, j, h), dv = dV + va.at(b, j, h)
                    let sds = scale * ds
                    for c in 0..<dh {
                        dq[c] += sds * kj[c]
                        dk[c] += sds * qi[c]
                        dv[c] += pj * doi[c]
                    }
                }
            }
        }
    }
}
