/// CPU reference LayerNorm, generic over the scalar so the same code runs in `Float` (the CPU
/// backend) and `Double` (gradient checks and the self-test reference).
/// Semantics and shapes: `LayerNormOps`.
public enum LayerNormReference {
    public static func forward<T: BinaryFloatingPoint>(rows: Int, d: Int, epsilon: T,
                                                       x: UnsafePointer<T>, gamma: UnsafePointer<T>, beta: UnsafePointer<T>,
                                                       y: UnsafeMutablePointer<T>, mean: UnsafeMutablePointer<T>,
                                                       rstd: UnsafeMutablePointer<T>) {
        let invD = 1 / T(d)
        for i in 0..<rows {
            let xr = x + i * d, yr = y + i * d
            var s: T = 0
            for j in 0..<d { s += xr[j] }
            let mu = s * invD
            // Two passes: the one-pass E[x²] − μ² cancels badly when |μ| ≫ σ.
            var v: T = 0
            for j in 0..<d { let t = xr[j] - mu; v += t * t }
            let rs = 1 / (v * invD + epsilon).squareRoot()
            for j in 0..<d { yr[j] = gamma[j] * ((xr[j] - mu) * rs) + beta[j] }
            mean[i] = mu
            rstd[i] = rs
        }
    }

    public static func backward<T: BinaryFloatingPoint>(rows: Int, d: Int, dy: UnsafePointer<T>, x: UnsafePointer<T>,
                                                        gamma: UnsafePointer<T>, mean: UnsafePointer<T>, rstd: UnsafePointer<T>,
                                                        dx: UnsafeMutablePointer<T>, dGamma: UnsafeMutablePointer<T>,
                                                        dBeta: UnsafeMutablePointer<T>) {
        // Parameter gradients first: dx may alias dy.
        dGamma.update(repeating: 0, count: d)
        dBeta.update(repeating: 0, count: d)
        for i in 0..<rows {
            let xr = x + i * d, gr = dy + i * d
            let mu = mean[i], rs = rstd[i]
            for j in 0..<d {
                dGamma[j] += gr[j] * ((xr[j] - mu) * rs)
                dBeta[j] += gr[j]
            }
        }
        let invD = 1 / T(d)
        for i in 0..<rows {
            let xr = x + i * d, gr = dy + i * d, dxr = dx + i * d
            let mu = mean[i], rs = rstd[i]
            var sg: T = 0, sgx: T = 0
            for j in 0..<d {
                let g = gr[j] * gamma[j]
                sg += g
                sgx += g * ((xr[j] - mu) * rs)
            }
            let mg = sg * invD, mgx = sgx * invD
            for j in 0..<d {
                let xh = (xr[j] - mu) * rs
                dxr[j] = rs * (gr[j] * gamma[j] - mg - xh * mgx)
            }
        }
    }
}
