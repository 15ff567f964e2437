// The inner loop of the AVX-512 GEMM's register tiles (gemm.c), shared with kernels that run
// a product's tiles and go on from the accumulators (cafu_scalar_forward.c). Include after the
// file's `#pragma clang attribute push` of the AVX-512 target and after avx512_inline.h.
#ifndef ARMMT_GEMM_TILE_H
#define ARMMT_GEMM_TILE_H

// One operand of a product whose A is two blocks side by side, [A1 | A2]: A[r, l] is
// a[r·lda + l·acs] for l < k. The second block's l continues from the first's.
typedef struct {
    const float *a;
    long lda, acs, k;
} operand;

// acc[r][v] += Σ_l A[r, l]·B[l, 16v…], l in order: the inner loop of a tile over one operand,
// on the caller's `__m512 acc[R][4]`; B's last vector masked by `last`. AT (a constant): A read
// transposed, A[r, l] at a[r + l·acs].
// Lines still to be prefetched: [p, end), then [p2, end2).
typedef struct {
    const float *p, *end, *p2, *end2;
} blockCursor;

// Prefetches the cursor's next line into L2 and moves it on; nothing once it is through.
ALWAYS_INLINE void prefetchNextLine(blockCursor *c) {
    if (c->p >= c->end) return;
    _mm_prefetch((const char *)c->p, _MM_HINT_T1);
    c->p += 16;
    if (c->p >= c->end) c->p = c->p2, c->end = c->end2, c->p2 = c->end2 = 0;
}

#define ACCUMULATE(R, V, AT, op, b, ldb, last)                                                                     \
    ACCUMULATE_PREFETCHING(R, V, AT, op, b, ldb, last, (const float *)0, (blockCursor *)0)

// ACCUMULATE, prefetching what the GEMM reads next (nothing for a null pointer):
// - `next` (not AT): the next tile's R rows of A (stride op.lda), to L1. In the 16 iterations
//   that read one 64-byte line of this tile's rows, the first R prefetch the same line of the
//   next tile's rows, one each. A tile's rows are short streams (one KC block of one row: 16
//   lines) that jump by R rows at every tile, too short for the hardware's stream prefetcher
//   when A comes from DRAM (the modality projections' 20992 rows).
// - `cursor` (AT only): a line each iteration of the next reduction block (gemm.c), to L2.
#define ACCUMULATE_PREFETCHING(R, V, AT, op, b, ldb, last, next, cursor)                                           \
    for (long l = 0; l < (op).k; ++l) {                                                                            \
        const float *bl = (b) + l * (ldb), *al = (op).a + l * (op).acs;                                            \
        if (!(AT) && (next) && (l & 15) < (R))                                                                     \
            _mm_prefetch((const char *)((next) + (l & 15) * (op).lda + l * (op).acs), _MM_HINT_T0);                \
        if ((AT) && (cursor)) prefetchNextLine(cursor);                                                            \
        __m512 bv[4];                                                                                              \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < V; ++v)                                             \
            bv[v] = v == V - 1 ? _mm512_maskz_loadu_ps(last, bl + 16 * v) : _mm512_loadu_ps(bl + 16 * v);          \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; ++r) {                                           \
            const __m512 x = _mm512_set1_ps(al[AT ? r : r * (op).lda]);                                            \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < V; ++v)                                         \
                acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);                                                  \
        }                                                                                                          \
    }

#endif
