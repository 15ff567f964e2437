#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Every function below is compiled for AVX-512 (the subsets of Skylake-X and later, which
// armmt_cpu_has_avx512_skx checks), whatever the target of the rest of the build.
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#include "avx512_inline.h"
#include "gemm_tile.h"

// The reduction's block length: B's KC × 64 panel (KC·256 bytes) within L1/L2.
#ifndef KC
#define KC 256
#endif

// Most floats of a transposed A's and B's next reduction block that a block prefetches to L2
// while its tiles run (256 KB, a quarter of a Zen 5 core's L2): beyond it the two blocks
// together crowd L2, and the wide weight gradients (n = 256 … 384) gained nothing.
#ifndef NEXT_BLOCK_FLOATS
#define NEXT_BLOCK_FLOATS (64 << 10)
#endif

// How a tile's rows are stored: as summed (factor NULL), or row r times factor[r·fs] (fs = 0:
// one factor for every row) as the last block of the reduction stores them, so no second pass
// over C scales it.
typedef struct {
    const float *factor;
    long fs;
} rowScale;

// One register tile of C: R rows × V vectors of 16 columns, the last vector masked by `last`.
// The chains start from C's stored values with fromC (a later k block, or C += A·B), else from
// the row vector `bias` (its first 16·V columns, for C = bias + A·B) or 0 when it is NULL.
// R and V are constants at every call, so the loops unroll and the R·V accumulators live in
// registers (at most 24 of the 32, plus V for B; A is broadcast from memory). Per l: V loads
// of B, R broadcasts of A, R·V independent FMAs. `a1` covers B's first a1.k rows, `a2` the rest.
// AT (a constant): both operands are read transposed (lda = 1), so a tile's R broadcasts are
// consecutive floats rather than R addresses lda apart, which cost registers and spills.
ALWAYS_INLINE void tile(const int R, const int V, const int AT, operand a1, operand a2, const float *b, long ldb,
                        float *c, long ldc, __mmask16 last, int fromC, const float *bias, rowScale scale,
                        int prefetchNext, blockCursor *cursor) {
    __m512 acc[12][4];
    // Row r starts from from[r·fromStride + …]: C's rows, or the bias row for every r.
    const float *from = fromC ? c : bias;
    const long fromStride = fromC ? ldc : 0;
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r)
#pragma clang loop unroll(full)
        for (int v = 0; v < V; ++v) {
            const float *f = from + r * fromStride + 16 * v;
            acc[r][v] = !from        ? _mm512_setzero_ps()
                        : v == V - 1 ? _mm512_maskz_loadu_ps(last, f)
                                     : _mm512_loadu_ps(f);
        }
    ACCUMULATE_PREFETCHING(R, V, AT, a1, b, ldb, last, prefetchNext ? a1.a + R * a1.lda : (const float *)0, cursor)
    ACCUMULATE_PREFETCHING(R, V, AT, a2, b + a1.k * ldb, ldb, last, prefetchNext ? a2.a + R * a2.lda : (const float *)0,
                           cursor)
    if (scale.factor) {
#pragma clang loop unroll(full)
        for (int r = 0; r < R; ++r) {
            const __m512 f = _mm512_set1_ps(scale.factor[r * scale.fs]);
#pragma clang loop unroll(full)
            for (int v = 0; v < V; ++v) acc[r][v] = _mm512_mul_ps(f, acc[r][v]);
        }
    }
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
#define REST(R, V, RMAX, AT)                                                                                       \
    case R: tile(R < RMAX ? R : RMAX - 1, V, AT, a1, a2, b, ldb, c, ldc, last, fromC, bias, scale, 0, cursor); break;
#define PANEL(V, RMAX, AT)                                                                                         \
    static void panel##V##AT(long m, operand a1, operand a2, const float *b, long ldb, float *c, long ldc,         \
                             __mmask16 last, int fromC, const float *bias, rowScale scale, blockCursor *cursor) {  \
        long i = 0;                                                                                                \
        for (; i + RMAX <= m; i += RMAX) {                                                                         \
            tile(RMAX, V, AT, a1, a2, b, ldb, c, ldc, last, fromC, bias, scale, i + 2 * RMAX <= m, cursor);        \
            a1.a += RMAX * a1.lda, a2.a += RMAX * a2.lda, c += RMAX * ldc;                                         \
            if (scale.factor) scale.factor += RMAX * scale.fs;                                                     \
        }                                                                                                          \
        switch (m - i) {                                                                                           \
            REST(1, V, RMAX, AT) REST(2, V, RMAX, AT) REST(3, V, RMAX, AT) REST(4, V, RMAX, AT)                    \
            REST(5, V, RMAX, AT) REST(6, V, RMAX, AT) REST(7, V, RMAX, AT) REST(8, V, RMAX, AT)                    \
            REST(9, V, RMAX, AT) REST(10, V, RMAX, AT) REST(11, V, RMAX, AT)                                       \
        default: break;                                                                                            \
        }                                                                                                          \
    }

PANEL(1, 12, 0)
PANEL(2, 12, 0)
PANEL(3, 8, 0)
PANEL(4, 6, 0)
PANEL(1, 12, 1)
PANEL(2, 12, 1)
PANEL(3, 8, 1)
PANEL(4, 6, 1)

// All column panels over one block of the reduction, prefetching through `cursor` (may be NULL).
static void panels(long m, long n, operand o1, operand o2, const float *b, long ldb, float *c, long ldc, int fromC,
                   const float *bias, rowScale scale, blockCursor *cursor) {
    const int at = o1.lda == 1 && (o2.k == 0 || o2.lda == 1);
    // Column panels of 64 (four vectors); the last panel has 1–4 vectors, its last one masked.
    for (long j = 0; j < n; j += 64) {
        const long width = n - j < 64 ? n - j : 64;
        const long vectors = (width + 15) / 16;
        const long lastWidth = width - 16 * (vectors - 1);
        const __mmask16 last = (__mmask16)((1u << lastWidth) - 1);
        const float *bj = b + j, *biasj = bias ? bias + j : 0;
        float *cj = c + j;
        switch (vectors) {
        case 1: (at ? panel11 : panel10)(m, o1, o2, bj, ldb, cj, ldc, last, fromC, biasj, scale, cursor); break;
        case 2: (at ? panel21 : panel20)(m, o1, o2, bj, ldb, cj, ldc, last, fromC, biasj, scale, cursor); break;
        case 3: (at ? panel31 : panel30)(m, o1, o2, bj, ldb, cj, ldc, last, fromC, biasj, scale, cursor); break;
        default: (at ? panel41 : panel40)(m, o1, o2, bj, ldb, cj, ldc, last, fromC, biasj, scale, cursor); break;
        }
    }
}

// The reduction in blocks of at most KC along l (each operand cut on its own), every block
// continuing the chains the last one stored in C: B's KC × 64 panel and A's block stay in
// cache while the row tiles sweep them. Without the blocks a long reduction (a weight
// gradient over thousands of rows) streamed both from L3 once per row tile. Only the last
// block applies `scale`. A weight gradient (A transposed) reads each block of A and B once,
// straight from DRAM in a training step, and its first row tile waited for it: each block
// prefetches the next one's rows of both while its tiles run.
static void gemm(long m, long n, operand o1, operand o2, const float *b, long ldb, float *c, long ldc, int fromC,
                 const float *bias, rowScale scale) {
    const operand none = {o1.a, o1.lda, o1.acs, 0};
    const long total = o1.k + o2.k;
    if (total <= KC) {
        panels(m, n, o1, o2, b, ldb, c, ldc, fromC, bias, scale, 0);
        return;
    }
    const operand ops[2] = {o1, o2};
    const rowScale plain = {0, 0};
    long done = 0;
    for (int i = 0; i < 2; ++i) {
        for (long l0 = 0; l0 < ops[i].k; l0 += KC) {
            const operand block = {ops[i].a + l0 * ops[i].acs, ops[i].lda, ops[i].acs, ops[i].k - l0 < KC ? ops[i].k - l0 : KC};
            done += block.k;
            const long nextK = ops[i].k - l0 - block.k < KC ? ops[i].k - l0 - block.k : KC;
            blockCursor next = {0, 0, 0, 0};
            if (ops[i].lda == 1 && nextK > 0 && nextK * (ops[i].acs + ldb) <= NEXT_BLOCK_FLOATS) {
                const float *na = ops[i].a + (l0 + block.k) * ops[i].acs, *nb = b + block.k * ldb;
                next = (blockCursor){na, na + nextK * ops[i].acs, nb, nb + nextK * ldb};
            }
            panels(m, n, block, none, b, ldb, c, ldc, fromC, bias, done == total ? scale : plain, next.p ? &next : 0);
            fromC = 1;
            b += block.k * ldb;
        }
    }
}

void armmt_avx512_gemm_concat(long m, long n, long k1, const float *a1, long lda1, long acs1, long k2,
                              const float *a2, long lda2, long acs2, const float *b, long ldb, float *c,
                              long ldc) {
    const operand o1 = {a1, lda1, acs1, k1}, o2 = {a2, lda2, acs2, k2};
    gemm(m, n, o1, o2, b, ldb, c, ldc, 0, 0, (rowScale){0, 0});
}

void armmt_avx512_gemm(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                       float *c, long ldc) {
    const operand o = {a, lda, acs, k}, none = {a, lda, acs, 0};
    gemm(m, n, o, none, b, ldb, c, ldc, 0, 0, (rowScale){0, 0});
}

void armmt_avx512_gemm_bias(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                            const float *bias, float *c, long ldc) {
    const operand o = {a, lda, acs, k}, none = {a, lda, acs, 0};
    gemm(m, n, o, none, b, ldb, c, ldc, 0, bias, (rowScale){0, 0});
}

void armmt_avx512_gemm_add(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                           float *c, long ldc) {
    const operand o = {a, lda, acs, k}, none = {a, lda, acs, 0};
    gemm(m, n, o, none, b, ldb, c, ldc, 1, 0, (rowScale){0, 0});
}

void armmt_avx512_gemm_rows_scaled(long m, long n, long k, const float *a, long lda, long acs, const float *b,
                                   long ldb, float *c, long ldc, int fromC, const float *factor, long fs) {
    const operand o = {a, lda, acs, k}, none = {a, lda, acs, 0};
    gemm(m, n, o, none, b, ldb, c, ldc, fromC, 0, (rowScale){factor, fs});
}

#pragma clang attribute pop

#else

// Never called off x86-64 (armmt_cpu_has_avx512_skx() is 0 there); defined so the module links.
void armmt_avx512_gemm_concat(long m, long n, long k1, const float *a1, long lda1, long acs1, long k2,
                              const float *a2, long lda2, long acs2, const float *b, long ldb, float *c,
                              long ldc) {
    __builtin_trap();
}

void armmt_avx512_gemm(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                       float *c, long ldc) {
    __builtin_trap();
}

void armmt_avx512_gemm_add(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                           float *c, long ldc) {
    __builtin_trap();
}

void armmt_avx512_gemm_bias(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                            const float *bias, float *c, long ldc) {
    __builtin_trap();
}

void armmt_avx512_gemm_rows_scaled(long m, long n, long k, const float *a, long lda, long acs, const float *b,
                                   long ldb, float *c, long ldc, int fromC, const float *factor, long fs) {
    __builtin_trap();
}

#endif
