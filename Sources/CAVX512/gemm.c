#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Every function below is compiled for AVX-512 (the subsets of Skylake-X and later, which
// armmt_cpu_has_avx512_skx checks), whatever the target of the rest of the build.
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#define ALWAYS_INLINE static inline __attribute__((always_inline))

// One operand of a product whose A is two blocks side by side, [A1 | A2]: A[r, l] is
// a[r·lda + l·acs] for l < k. The second block's l continues from the first's.
typedef struct {
    const float *a;
    long lda, acs, k;
} operand;

// acc[r][v] += Σ_l A[r, l]·B[l, 16v…], l in order: the inner loop of a tile over one operand.
#define ACCUMULATE(R, V, op, b, ldb, last)                                                                  \
    for (long l = 0; l < (op).k; ++l) {                                                                    \
        const float *bl = (b) + l * (ldb), *al = (op).a + l * (op).acs;                                   \
        __m512 bv[4];                                                                                      \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < V; ++v)                                     \
            bv[v] = v == V - 1 ? _mm512_maskz_loadu_ps(last, bl + 16 * v) : _mm512_loadu_ps(bl + 16 * v);  \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; ++r) {                                   \
            const __m512 x = _mm512_set1_ps(al[r * (op).lda]);                                             \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < V; ++v)                                 \
                acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);                                         \
        }                                                                                                  \
    }

// One register tile of C: R rows × V vectors of 16 columns, the last vector masked by `last`.
// R and V are constants at every call, so the loops unroll and the R·V accumulators live in
// registers (at most 24 of the 32, plus V for B; A is broadcast from memory). Per l: V loads
// of B, R broadcasts of A, R·V independent FMAs. `a1` covers B's first a1.k rows, `a2` the rest.
ALWAYS_INLINE void tile(const int R, const int V, operand a1, operand a2, const float *b, long ldb, float *c,
                        long ldc, __mmask16 last) {
    __m512 acc[12][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r)
#pragma clang loop unroll(full)
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
    ACCUMULATE(R, V, a1, b, ldb, last)
    ACCUMULATE(R, V, a2, b + a1.k * ldb, ldb, last)
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r)
#pragma clang loop unroll(full)
        for (int v = 0; v < V; ++v) {
            float *cr = c + r * ldc + 16 * v;
            if (v == V - 1) _mm512_mask_storeu_ps(cr, last, acc[r][v]);
            else _mm512_storeu_ps(cr, acc[r][v]);
        }
}

// All rows of one column panel of V vectors: tiles of RMAX rows, then one tile of the rest.
// RMAX per V keeps R·V ≤ 24 accumulators and at least 12 independent chains (a 4-cycle FMA
// latency on two pipes needs 8).
#define PANEL(V, RMAX)                                                                                     \
    static void panel##V(long m, operand a1, operand a2, const float *b, long ldb, float *c, long ldc,     \
                         __mmask16 last) {                                                                 \
        long i = 0;                                                                                        \
        for (; i + RMAX <= m; i += RMAX, a1.a += RMAX * a1.lda, a2.a += RMAX * a2.lda)                    \
            tile(RMAX, V, a1, a2, b, ldb, c + i * ldc, ldc, last);                                         \
        float *ci = c + i * ldc;                                                                           \
        switch (m - i) {                                                                                   \
        case 0: break;                                                                                     \
        case 1: tile(1, V, a1, a2, b, ldb, ci, ldc, last); break;                                          \
        case 2: tile(2, V, a1, a2, b, ldb, ci, ldc, last); break;                                          \
        case 3: tile(3, V, a1, a2, b, ldb, ci, ldc, last); break;                                          \
        case 4: tile(4, V, a1, a2, b, ldb, ci, ldc, last); break;                                          \
        case 5: tile(5, V, a1, a2, b, ldb, ci, ldc, last); break;                                          \
        case 6: tile(6, V, a1, a2, b, ldb, ci, ldc, last); break;                                          \
        case 7: tile(7, V, a1, a2, b, ldb, ci, ldc, last); break;                                          \
        case 8: tile(8, V, a1, a2, b, ldb, ci, ldc, last); break;                                          \
        case 9: tile(9, V, a1, a2, b, ldb, ci, ldc, last); break;                                          \
        case 10: tile(10, V, a1, a2, b, ldb, ci, ldc, last); break;                                        \
        default: tile(11, V, a1, a2, b, ldb, ci, ldc, last); break;                                        \
        }                                                                                                  \
    }

PANEL(1, 12)
PANEL(2, 12)
PANEL(3, 8)
PANEL(4, 6)

void armmt_avx512_gemm_concat(long m, long n, long k1, const float *a1, long lda1, long acs1, long k2,
                              const float *a2, long lda2, long acs2, const float *b, long ldb, float *c,
                              long ldc) {
    const operand o1 = {a1, lda1, acs1, k1}, o2 = {a2, lda2, acs2, k2};
    // Column panels of 64 (four vectors); the last panel has 1–4 vectors, its last one masked.
    for (long j = 0; j < n; j += 64) {
        const long width = n - j < 64 ? n - j : 64;
        const long vectors = (width + 15) / 16;
        const long lastWidth = width - 16 * (vectors - 1);
        const __mmask16 last = (__mmask16)((1u << lastWidth) - 1);
        switch (vectors) {
        case 1: panel1(m, o1, o2, b + j, ldb, c + j, ldc, last); break;
        case 2: panel2(m, o1, o2, b + j, ldb, c + j, ldc, last); break;
        case 3: panel3(m, o1, o2, b + j, ldb, c + j, ldc, last); break;
        default: panel4(m, o1, o2, b + j, ldb, c + j, ldc, last); break;
        }
    }
}

void armmt_avx512_gemm(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                       float *c, long ldc) {
    armmt_avx512_gemm_concat(m, n, k, a, lda, acs, 0, a, lda, acs, b, ldb, c, ldc);
}

#pragma clang attribute pop

#else

// Never called off x86-64 (armmt_cpu_has_avx512_skx() is 0 there); defined so the module links.
void armmt_avx512_gemm_concat(long m, long n, long k1, const float *a1, long lda1, long acs1, long k2,
                              const float *a2, long lda2, long acs2, const float *b, long ldb, float *c,
                              long ldc) {
    for (long r = 0; r < m; ++r)
        for (long j = 0; j < n; ++j) {
            float s = 0;
            for (long l = 0; l < k1; ++l) s = __builtin_fmaf(a1[r * lda1 + l * acs1], b[l * ldb + j], s);
            for (long l = 0; l < k2; ++l) s = __builtin_fmaf(a2[r * lda2 + l * acs2], b[(k1 + l) * ldb + j], s);
            c[r * ldc + j] = s;
        }
}

void armmt_avx512_gemm(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                       float *c, long ldc) {
    armmt_avx512_gemm_concat(m, n, k, a, lda, acs, 0, a, lda, acs, b, ldb, c, ldc);
}

#endif
