/// Float fast path of LayerNorm for the CPU backend: eight features at a time, rows split over
/// cores. Same math as `LayerNormReference` (the Double reference): two-pass mean and variance,
/// y = γ·((x − μ)·rstd) + β; backward dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ, and
/// dγ = Σ dy·x̂, dβ = Σ dy over rows, summed by `CPUParallel.reduceRows` in a fixed order.
///
/// A row is its whole blocks of eight features, then a partial block of `rest` = d mod 8
/// (zero-filled lanes, which add 0 to every sum), each sum a chain in block order. The whole
/// blocks run in loops of their own, specialised for rest = 0: with the partial block's test
/// inside every load, as before, the loops at d = 64 spilled and branched.
enum LayerNormFastPath {
    static func forward(rows: Int, d: Int, epsilon: Float, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                        beta: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                        rstd: UnsafeMutablePointer<Float>, parallel: Bool) {
        guard d > 0 else { return }
        let rest = d % 8
        CPUParallel.forEachRange(rows, workPerItem: 8 * d, parallel: parallel) { range in
            if rest == 0 {
                forwardRows(range, d: d, rest: 0, epsilon: epsilon, x: x, gamma: gamma, beta: beta, y: y, mean: mean, rstd: rstd)
            } else {
                forwardRows(range, d: d, rest: rest, epsilon: epsilon, x: x, gamma: gamma, beta: beta, y: y, mean: mean, rstd: rstd)
            }
        }
    }

    @inline(__always) static func forwardRows(_ range: Range<Int>, d: Int, rest: Int, epsilon: Float, x: UnsafePointer<Float>,
                                              gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                              y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                              rstd: UnsafeMutablePointer<Float>) {
        let invD = 1 / Float(d), whole = d - rest
        for i in range {
            let xr = x + i * d, yr = y + i * d
            var s = Float8()
            for j in stride(from: 0, to: whole, by: 8) { s += xr.load8(j) }
            if rest > 0 { s += VectorMath.loadPartial(xr + whole, rest) }
            let mu = VectorMath.horizontalSum(s) * invD
            // Two passes: the one-pass E[x²] − μ² cancels badly when |μ| ≫ σ.
            var v = Float8()
            for j in stride(from: 0, to: whole, by: 8) {
                let t = xr.load8(j) - mu
                v = v.addingProduct(t, t)
            }
            if rest > 0 {
                let t = (VectorMath.loadPartial(xr + whole, rest) - mu).replacing(with: 0, where: Float8.paddingLanes(from: rest))
                v = v.addingProduct(t, t)
            }
            let rs = 1 / (VectorMath.horizontalSum(v) * invD + epsilon).squareRoot()
            for j in stride(from: 0, to: whole, by: 8) {
                yr.store8(VectorMath.fma(gamma.load8(j), (xr.load8(j) - mu) * rs, beta.load8(j)), j)
            }
            if rest > 0 {
                let xh = (VectorMath.loadPartial(xr + whole, rest) - mu) * rs
                let out = VectorMath.fma(VectorMath.loadPartial(gamma + whole, rest), xh, VectorMath.loadPartial(beta + whole, rest))
                VectorMath.storePartial(out, yr + whole, rest)
            }
            mean[i] = mu
            rstd[i] = rs
        }
    }

    static func backward(rows: Int, d: Int, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                         dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>, parallel: Bool) {
        guard d > 0 else { return }
        let rest = d % 8
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: 2 * d)
        defer { sums.deallocate() }
        // partial[0..<d] collects dγ, partial[d..<2d] dβ. Each row is read (dy for dγ, dβ and
        // the row sums) before its dx is written, so dx may alias dy.
        CPUParallel.reduceRows(rows, workPerRow: 12 * d, width: 2 * d, into: sums, parallel: parallel) { range, partial in
            if rest == 0 {
                backwardRows(range, d: d, rest: 0, dy: dy, x: x, gamma: gamma, mean: mean, rstd: rstd, dx: dx, partial: partial)
            } else {
                backwardRows(range, d: d, rest: rest, dy: dy, x: x, gamma: gamma, mean: mean, rstd: rstd, dx: dx, partial: partial)
            }
        }
        dGamma.update(from: sums, count: d)
        dBeta.update(from: sums + d, count: d)
    }

    @inline(__always) static func backwardRows(_ range: Range<Int>, d: Int, rest: Int, dy: UnsafePointer<Float>,
                                               x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                               mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                               dx: UnsafeMutablePointer<Float>, partial: UnsafeMutablePointer<Float>) {
        let invD = 1 / Float(d), whole = d - rest
        let dGamma = partial, dBeta = partial + d
        for i in range {
            let xr = x + i * d, gr = dy + i * d, dxr = dx + i * d
            let mu = mean[i], rs = rstd[i]
            var sg = Float8(), sgx = Float8()
            for j in stride(from: 0, to: whole, by: 8) {
                let g = gr.load8(j), xh = (xr.load8(j) - mu) * rs
                dGamma.store8(VectorMath.fma(g, xh, UnsafePointer(dGamma).load8(j)), j)
                dBeta.store8(UnsafePointer(dBeta).load8(j) + g, j)
                let gg = g * gamma.load8(j)
                sg += gg
                sgx = sgx.addingProduct(gg, xh)
            }
            if rest > 0 { partialBlockSums(rest, g: gr + whole, x: xr + whole, mu: mu, rs: rs, gamma: gamma + whole,
                                           dGamma: dGamma + whole, dBeta: dBeta + whole, sg: &sg, sgx: &sgx) }
            let mg = VectorMath.horizontalSum(sg) * invD, mgx = VectorMath.horizontalSum(sgx) * invD
            for j in stride(from: 0, to: whole, by: 8) {
                let xh = (xr.load8(j) - mu) * rs
                dxr.store8(rs * (gr.load8(j) * gamma.load8(j) - mg - xh * mgx), j)
            }
            if rest > 0 {
                let xh = (VectorMath.loadPartial(xr + whole, rest) - mu) * rs
                let gg = VectorMath.loadPartial(gr + whole, rest) * VectorMath.loadPartial(gamma + whole, rest)
                VectorMath.storePartial(rs * (gg - mg - xh * mgx), dxr + whole, rest)
            }
        }
    }

    /// The partial block's share of the backward's first loop, out of line so that the row
    /// loop stays small enough to be inlined and specialised for rest = 0.
    @inline(never) static func partialBlockSums(_ rest: Int, g gp: UnsafePointer<Float>, x: UnsafePointer<Float>, mu: Float,
                                                rs: Float, gamma: UnsafePointer<Float>, dGamma: UnsafeMutablePointer<Float>,
                                                dBeta: UnsafeMutablePointer<Float>, sg: inout Float8, sgx: inout Float8) {
        // g, x̂ and γ are zero in the padding lanes.
        let g = VectorMath.loadPartial(gp, rest), xh = (VectorMath.loadPartial(x, rest) - mu) * rs
        VectorMath.storePartial(VectorMath.fma(g, xh, VectorMath.loadPartial(dGamma, rest)), dGamma, rest)
        VectorMath.storePartial(VectorMath.loadPartial(dBeta, rest) + g, dBeta, rest)
        let gg = g * VectorMath.loadPartial(gamma, rest)
        sg += gg
        sgx = sgx.addingProduct(gg, xh)
    }
}

extension Float8 {
    /// Lanes `from..<8` set: the padding lanes of a partial block of `from` values.
    @inline(__always) static func paddingLanes(from n: Int) -> SIMDMask<SIMD8<Int32>> {
        SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int32>(repeating: Int32(n))
    }
}
