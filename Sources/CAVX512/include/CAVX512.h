#ifndef ARMMT_CAVX512_H
#define ARMMT_CAVX512_H
// CPU kernels in AVX-512 (16 floats a register) for the CPU backend's fast paths. The Swift
// fast paths are compiled for AVX2 (8 floats), so they reach at most half the FMA peak of an
// AVX-512 CPU. These functions are compiled for AVX-512 one function at a time (the target
// attribute in gemm.c), so the build still runs on AVX2-only hosts; callers must check
// armmt_cpu_has_avx512_skx() (COpenBLAS/shim.h) before calling any of them.

/// C = A·B, overwriting C. C is [m, n] row-major with row stride ldc; B is [k, n] row-major
/// with row stride ldb; A is read as A[r, l] = a[r·lda + l·acs], so a transposed A (lda = 1,
/// acs = its row length) is read in place. Any m, n, k ≥ 0 (k = 0 writes zeros); columns past n
/// are neither read nor written.
///
/// Every C element is one chain of fused multiply-adds in l order starting from 0:
/// c = fma(A[r, l], B[l, j], c) for l = 0, 1, …, k − 1, the same bits as the Swift fast path's
/// `SmallGemm`, whatever the blocking.
void armmt_avx512_gemm(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                       float *c, long ldc);

#endif
