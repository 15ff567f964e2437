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

    /// C [m, n] = [A1 | A2]·B, B [k1 + k2, n]: A1 [m, k1] is the first k1 columns of `a1`'s rows
    /// (row stride `lda1` ≥ k1 + k2), A2 [m, k2] rows of `a2` (stride `lda2`). The AVX-512 kernel
    /// reads A2 in place. OpenBLAS gets A2 copied into columns k1..<k1 + k2 of `a1`'s rows and one
    /// GEMM: one product over k1 + k2 runs faster than two, and the copy streams A2 from memory,
    /// which OpenBLAS's strided packing does not.
    @inline(__always)
    static func multiplyConcatenated(m: Int, n: Int, k1: Int, a1: UnsafeMutablePointer<Float>, lda1: Int, k2: Int,
                                     a2: UnsafePointer<Float>, lda2: Int, b: UnsafePointer<Float>, ldb: Int,
                                     c: UnsafeMutablePointer<Float>, ldc: Int) {
        if CPUVectorUnit.current == .avx512 {
            armmt_avx512_gemm_concat(m, n, k1, a1, lda1, 1, k2, a2, lda2, 1, b, ldb, c, ldc)
        } else {
            for r in 0..<m { (a1 + r * lda1 + k1).update(from: a2 + r * lda2, count: k2) }
            multiply(transA: false, m: m, n: n, k: k1 + k2, a: a1, lda: lda1, b: b, ldb: ldb, c: c, ldc: ldc)
        }
    }

    /// `dst[l·rows + r] = src[r·ld + l]`: a weight stored [rows, columns] with row stride `ld`
    /// (PyTorch's Linear layout, [out, in]) as [columns, rows], so that x·Wᵀ is a product with B
    /// row-major.
    static func transpose(_ src: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int,
                          into dst: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = src + r * ld
            for l in 0..<columns { dst[l * rows + r] = row[l] }
        }
    }

    /// `transpose` of a dense [rows, columns] weight into a new buffer the caller deallocates.
    static func transposed(_ src: UnsafePointer<Float>, rows: Int, columns: Int) -> UnsafeMutablePointer<Float> {
        let dst = UnsafeMutablePointer<Float>.allocate(capacity: max(rows * columns, 1))
        transpose(src, rows: rows, columns: columns, ld: columns, into: dst)
        return dst
    }
}
