/// C = A·B for the tiny per-(batch, head) products of the attention fast path (32×16·16×50 and
/// the like), where a BLAS call costs more than the arithmetic. B and C are row-major with a
/// column count that is a multiple of 8 (callers pad with zeros); A is addressed as
/// `A[r, l] = a[r·lda + l·aColumnStride]`, so a transposed operand (`lda` 1, `aColumnStride`
/// its row length) is read in place without a transposed copy. Register blocks of 4 rows × 16 columns keep eight independent FMA chains in
/// flight; the k loop runs in order, so every element is one fixed sum: the bits of
/// `armmt_avx512_gemm`, which the AVX-512 attention kernel uses for the same products.
enum SmallGemm {
    @inline(__always) private static func splat(_ x: Float) -> Float8 { Float8(repeating: x) }

    static func multiply(m: Int, columns nc: Int, k: Int, a: UnsafePointer<Float>, lda: Int, aColumnStride acs: Int = 1,
                         b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(nc % 8 == 0, "SmallGemm: columns must be a multiple of 8")
        var i = 0
        while i + 4 <= m {
            let a0 = a + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda
            let c0 = c + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc
            var j = 0
            while j + 16 <= nc {
                var s00 = Float8(), s01 = Float8(), s10 = Float8(), s11 = Float8()
                var s20 = Float8(), s21 = Float8(), s30 = Float8(), s31 = Float8()
                for l in 0..<k {
                    let bl = b + l * ldb + j
                    let b0 = bl.load8(0), b1 = bl.load8(8)
                    let x0 = splat(a0[l * acs]), x1 = splat(a1[l * acs]), x2 = splat(a2[l * acs]), x3 = splat(a3[l * acs])
                    s00 = s00.addingProduct(x0, b0); s01 = s01.addingProduct(x0, b1)
                    s10 = s10.addingProduct(x1, b0); s11 = s11.addingProduct(x1, b1)
                    s20 = s20.addingProduct(x2, b0); s21 = s21.addingProduct(x2, b1)
                    s30 = s30.addingProduct(x3, b0); s31 = s31.addingProduct(x3, b1)
                }
                c0.store8(s00, j); c0.store8(s01, j + 8)
                c1.store8(s10, j); c1.store8(s11, j + 8)
                c2.store8(s20, j); c2.store8(s21, j + 8)
                c3.store8(s30, j); c3.store8(s31, j + 8)
                j += 16
            }
            if j < nc {
                var s0 = Float8(), s1 = Float8(), s2 = Float8(), s3 = Float8()
                for l in 0..<k {
                    let bv = (b + l * ldb).load8(j)
                    s0 = s0.addingProduct(splat(a0[l * acs]), bv); s1 = s1.addingProduct(splat(a1[l * acs]), bv)
                    s2 = s2.addingProduct(splat(a2[l * acs]), bv); s3 = s3.addingProduct(splat(a3[l * acs]), bv)
                }
                c0.store8(s0, j); c1.store8(s1, j); c2.store8(s2, j); c3.store8(s3, j)
            }
            i += 4
        }
        while i < m {
            let ar = a + i * lda, cr = c + i * ldc
            var j = 0
            while j < nc {
                var s = Float8()
                for l in 0..<k { s = s.addingProduct(splat(ar[l * acs]), (b + l * ldb).load8(j)) }
                cr.store8(s, j)
                j += 8
            }
            i += 1
        }
    }
}
