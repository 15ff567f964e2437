/// Float fast path of LayerNorm for the CPU backend: eight features at a time, rows split over
/// cores. Same math as `LayerNormReference` (the Double reference): two-pass mean and variance,
/// y = γ·((x − μ)·rstd) + β; backward dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ, and
/// dγ = Σ dy·x̂, dβ = Σ dy over rows, summed by `CPUParallel.reduceRows` in a fixed order.
enum LayerNormFastPath {
    /// Feature-vector helpers over a row of d floats: full blocks of 8, then one partial block
    /// (zero-filled lanes, which add 0 to every sum below).
    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ j: Int, _ d: Int) -> Float8 {
        j + 8 <= d ? p.load8(j) : VectorMath.loadPartial(p + j, d - j)
    }

    @inline(__always) static func store(_ v: Float8, _ p: UnsafeMutablePointer<Float>, _ j: Int, _ d: Int) {
        if j + 8 <= d { p.store8(v, j) } else { VectorMath.storePartial(v, p + j, d - j) }
    }

    static func forward(rows: Int, d: Int, epsilon: Float, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                        beta: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                        rstd: UnsafeMutablePointer<Float>, parallel: Bool) {
        guard d > 0 else { return }
        let invD = 1 / Float(d)
        CPUParallel.forEachRange(rows, workPerItem: 8 * d, parallel: parallel) { range in
            for i in range {
                let xr = x + i * d, yr = y + i * d
                var s = Float8()
                for j in stride(from: 0, to: d, by: 8) { s += load(xr, j, d) }
                let mu = VectorMath.horizontalSum(s) * invD
                // Two passes: the one-pass E[x²] − μ² cancels badly when |μ| ≫ σ.
                var v = Float8()
                for j in stride(from: 0, to: d, by: 8) {
                    var t = load(xr, j, d) - mu
                    if j + 8 > d { t = t.replacing(with: 0, where: Float8.paddingLanes(from: d - j)) }
                    v = v.addingProduct(t, t)
                }
                let rs = 1 / (VectorMath.horizontalSum(v) * invD + epsilon).squareRoot()
                for j in stride(from: 0, to: d, by: 8) {
                    let xh = (load(xr, j, d) - mu) * rs
                    store(VectorMath.fma(load(gamma, j, d), xh, load(beta, j, d)), yr, j, d)
                }
                mean[i] = mu
                rstd[i] = rs
            }
        }
    }

    static func backward(rows: Int, d: Int, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                         dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>, parallel: Bool) {
        guard d > 0 else { return }
        let invD = 1 / Float(d)
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: 2 * d)
        defer { sums.deallocate() }
        // partial[0..<d] collects dγ, partial[d..<2d] dβ. Each row is read (dy for dγ, dβ and
        // the row sums) before its dx is written, so dx may alias dy.
        CPUParallel.reduceRows(rows, workPerRow: 12 * d, width: 2 * d, into: sums, parallel: parallel) { range, partial in
            for i in range {
                let xr = x + i * d, gr = dy + i * d, dxr = dx + i * d
                let mu = mean[i], rs = rstd[i]
                var sg = Float8(), sgx = Float8()
                for j in stride(from: 0, to: d, by: 8) {
                    let g = load(gr, j, d), xh = (load(xr, j, d) - mu) * rs
                    store(VectorMath.fma(g, xh, load(partial, j, d)), partial, j, d)
                    store(load(partial + d, j, d) + g, partial + d, j, d)
                    let gg = g * load(gamma, j, d)
                    sg += gg
                    sgx = sgx.addingProduct(gg, xh)
                }
                let mg = VectorMath.horizontalSum(sg) * invD, mgx = VectorMath.horizontalSum(sgx) * invD
                for j in stride(from: 0, to: d, by: 8) {
                    let xh = (load(xr, j, d) - mu) * rs
                    let gg = load(gr, j, d) * load(gamma, j, d)
                    store(rs * (gg - mg - xh * mgx), dxr, j, d)
                }
            }
        }
        dGamma.update(from: sums, count: d)
        dBeta.update(from: sums + d, count: d)
    }
}

extension Float8 {
    /// Lanes `from..<8` set: the padding lanes of a partial block of `from` values.
    @inline(__always) static func paddingLanes(from n: Int) -> SIMDMask<SIMD8<Int32>> {
        SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int32>(repeating: Int32(n))
    }
}
