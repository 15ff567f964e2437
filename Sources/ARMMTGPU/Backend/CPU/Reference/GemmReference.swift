/// CPU reference GEMM, generic over the scalar so the same code runs in `Float` (the CPU
/// backend) and `Double` (the reference for gradient checks and the self-test).
/// Semantics: `GemmParameters`.
public enum GemmReference {
    public static func run<T: BLASScalar>(_ p: GemmParameters, a: UnsafePointer<T>, b: UnsafePointer<T>,
                                          c: UnsafeMutablePointer<T>, bias: UnsafePointer<T>?) {
        guard p.m > 0, p.n > 0 else { return }
        for batch in 0..<p.batchCount {
            let cb = c + p.offsetC + batch * p.strideC
            if p.k == 0 {
                // BLAS leaves k = 0 to the caller's reading; ours is C = β·C (C unread when β = 0).
                for i in 0..<p.m {
                    for j in 0..<p.n { cb[i * p.ldc + j] = p.beta == 0 ? 0 : T(p.beta) * cb[i * p.ldc + j] }
                }
            } else {
                T.blasGemm(transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k, alpha: T(p.alpha),
                           a: a + p.offsetA + batch * p.strideA, lda: p.lda,
                           b: b + p.offsetB + batch * p.strideB, ldb: p.ldb,
                           beta: T(p.beta), c: cb, ldc: p.ldc)
            }
            if let bias {
                let bb = bias + p.offsetBias
                for i in 0..<p.m {
                    for j in 0..<p.n { cb[i * p.ldc + j] += bb[j] }
                }
            }
        }
    }
}
