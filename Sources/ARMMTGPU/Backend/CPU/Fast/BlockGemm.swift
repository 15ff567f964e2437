import CAVX512

/// The GEMMs inside a fast path's cache-sized blocks (CAFU's 256 rows against 64–192 columns):
/// C = op(A)·B, overwriting C, with B row-major. On an AVX-512 host (`CPUVectorUnit`) they run in
/// `armmt_avx512_gemm`, whose register tiles fit these skinny shapes; else in OpenBLAS. The two
/// sum in different orders, so the bits differ between hosts, never between runs on one host.
enum BlockGemm {
    /// C [m, n] = op(A)·B with op(A) [m, k] (A stored [k, m] when `transA`), B [k, n].
    @inline(__always)
    static func multiply(transA: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                         b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if CPUVectorUnit.current == .avx512 {
            armmt_avx512_gemm(m, n, k, a, transA ? 1 : lda, transA ? lda : 1, b, ldb, c, ldc)
        } else {
            Float.blasGemm(transA: transA, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                           b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
        }
    }

    /// `dst[l·rows + r] = src[r·columns + l]`: a weight stored [rows, columns] (PyTorch's
    /// Linear layout, [out, in]) as [columns, rows], so that x·Wᵀ is a product with B row-major.
    static func transposed(_ src: UnsafePointer<Float>, rows: Int, columns: Int) -> UnsafeMutablePointer<Float> {
        let dst = UnsafeMutablePointer<Float>.allocate(capacity: max(rows * columns, 1))
        for r in 0..<rows {
            for l in 0..<columns { dst[l * rows + r] = src[r * columns + l] }
        }
        return dst
    }
}
