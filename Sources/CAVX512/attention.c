#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>

// The fused attention forward and backward of one sample (AttentionFastPath's per-head loops),
// in one call each: no Swift between the products, no staging buffers, the products in
// armmt_avx512_gemm's tiles. Each step is the one the Swift
// loop runs, with the same operations in the same order, so the bits are those of the Swift
// path (and of the AVX2 unit).
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#include "avx512_inline.h"
#include "avx512_math.h"
#include "gemm_tile.h"

// Queries per block: two 16-lane vectors, the model's Lq = 32 in one block.
#define QUERY_BLOCK 32

// Transposes the 16 × 16 tile r[0…15] (rows) in registers: unpack pairs of rows, then 4 × 4
// blocks within 128-bit lanes, then the lanes themselves in two steps.
ALWAYS_INLINE void transpose16(__m512 r[16]) {
    __m512 t[16];
#pragma clang loop unroll(full)
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma clang loop unroll(full)
    for (int h = 0; h < 16; h += 8)
#pragma clang loop unroll(full)
        for (int i = 0; i < 4; ++i) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0x88);
            t[h + 4 + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0xdd);
        }
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; ++i) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    }
}

// Step `step` of `steps`: prefetches that share of every block's rows, each 64-byte line of
// them. Forward and backward spread the next sample's lines over their head × query-block
// steps: issued all at once before the sample (a thousand lines in the backward), they filled
// the core's miss buffers, so the sample's own first loads waited behind them, and they pushed
// its operands out of L1. Without any prefetch the forward ran 2.0–2.2× slower at the bench's
// large shapes, whose rows come from DRAM (BENCHMARKS.md, session 11).
static void prefetchShare(const armmt_prefetch_rows *blocks, long count, long step, long steps) {
    for (long b = 0; b < count; ++b) {
        const armmt_prefetch_rows r = blocks[b];
        for (long i = step * r.rows / steps; i < (step + 1) * r.rows / steps; ++i) {
            const unsigned long row = (unsigned long)(r.base + i * r.ld), last = row + 4 * r.width - 1;
            if (r.write)
                for (unsigned long line = row & ~63UL; line <= last; line += 64) __builtin_prefetch((const void *)line, 1, 3);
            else
                for (unsigned long line = row & ~63UL; line <= last; line += 64) __builtin_prefetch((const void *)line, 0, 3);
        }
    }
}

// dst[c·ldd + i] = factor·src[i·ld + c] for c < width, i < ldd (0 for i ≥ rows), in 16 × 16
// register tiles. Inlined where width and ldd are constants (the dh = 16 blocks: 16 and 32),
// so its masks and tests fold away and nothing spills; called through
// armmt_avx512_transpose_scaled otherwise.
ALWAYS_INLINE void transposeScaled(long rows, long width, float factor, const float *src, long ld, float *dst,
                                   long ldd) {
    const __m512 f = _mm512_set1_ps(factor);
    for (long i0 = 0; i0 < ldd; i0 += 16) {
        const __mmask16 out = lanesBelow(ldd - i0);
        for (long c0 = 0; c0 < width; c0 += 16) {
            const __mmask16 in = lanesBelow(width - c0);
            // Constant indices only (loops unrolled), so the tile stays in registers.
            // A whole tile of rows (every tile at Lq = 32) loads without a test per row.
            __m512 r[16];
            const float *at = src + i0 * ld + c0;
            if (i0 + 16 <= rows) {
#pragma clang loop unroll(full)
                for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_ps(in, at + i * ld);
            } else {
#pragma clang loop unroll(full)
                for (int i = 0; i < 16; ++i) r[i] = i0 + i < rows ? _mm512_maskz_loadu_ps(in, at + i * ld) : _mm512_setzero_ps();
            }
            transpose16(r);
#pragma clang loop unroll(full)
            for (int c = 0; c < 16; ++c)
                if (c0 + c < width) _mm512_mask_storeu_ps(dst + (c0 + c) * ldd + i0, out, _mm512_mul_ps(f, r[c]));
        }
    }
}

void armmt_avx512_transpose_scaled(long rows, long width, float factor, const float *src, long ld, float *dst,
                                   long ldd) {
    transposeScaled(rows, width, factor, src, ld, dst, ldd);
}

// ---- The forward at dh = 16 (the default config's head width), where a head's row is one
// vector. One head and block of up to 32 queries makes three passes over the keys, its
// operands in L1: Sᵀ and the per-query max in one, the exponentials (both 16-lane groups
// together), then O. The general path computes the same operations in the same order
// (every sum a chain in key or dh order from 0), so the bits are the same.

// Keys per score tile: 24 accumulators, the two Qᵀ vectors of one l and their broadcasts.
#define KEY_TILE 12

// acc[r][g] = Σ_l a[r·lda + l]·bT[32·l + 16·g …] for r < R (R key rows of A = K or V times
// the block's transposed queries bT [16, 32]), each a chain in l order from 0.
// The l loop is not unrolled: unrolled, LLVM hoisted all 16·R broadcasts of A out of the chains
// and spilled them to the stack, three times the time of the products.
#define PRODUCT_TILE16(R, acc, a, lda, bT)                                                                         \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();   \
    _Pragma("clang loop unroll(disable)") for (int l = 0; l < 16; ++l) {                                           \
        const __m512 b0 = _mm512_loadu_ps((bT) + 32 * l), b1 = _mm512_loadu_ps((bT) + 32 * l + 16);              \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; ++r) {                                           \
            const __m512 x = _mm512_set1_ps((a)[r * (lda) + l]);                                                   \
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);                                                         \
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);                                                         \
        }                                                                                                          \
    }

// Sᵀ rows j0 … j0 + R − 1 (stride 32) = K·(scale·Qᵀ), and the running max in the general
// softmax's two chains (m[0], m[1]: odd rows; m[2], m[3]: even rows after the first) per
// 16-lane group. j0 is a multiple of KEY_TILE (even), so row j0 + r has the parity of r.
ALWAYS_INLINE void scoreTile16(const int R, const float *kh, long ldk, const float *qT, float *s, long j0,
                               __m512 m[4]) {
    __m512 acc[KEY_TILE][2];
    PRODUCT_TILE16(R, acc, kh + j0 * ldk, ldk, qT)
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r) {
        float *row = s + 32 * (j0 + r);
        _mm512_storeu_ps(row, acc[r][0]);
        _mm512_storeu_ps(row + 16, acc[r][1]);
        if (r == 0 && j0 == 0) m[0] = m[2] = acc[0][0], m[1] = m[3] = acc[0][1];
        else if (r & 1) m[0] = swiftMax(m[0], acc[r][0]), m[1] = swiftMax(m[1], acc[r][1]);
        else m[2] = swiftMax(m[2], acc[r][0]), m[3] = swiftMax(m[3], acc[r][1]);
    }
}

#define SCORE_REST(R)                                                                                              \
    case R: scoreTile16(R, kh, ldk, qT, s, j0, m); break;

// Rows r < rows (≤ 16) of A·B times factor[r·fs] (fs = 0: one factor for every row), A read
// transposed from rows of 32 (A[r, j] = aT[32·j + r]), B's rows b + j·ldb: 16 chains over
// j < n. O = (P·V)·(1/Σ) in the forward, dQ = scale·(dS·K) in the backward.
ALWAYS_INLINE void rowTile16(long n, long rows, const float *aT, const float *b, long ldb, const float *factor,
                             long fs, float *out, long ldo) {
    __m512 acc[16];
#pragma clang loop unroll(full)
    for (int r = 0; r < 16; ++r) acc[r] = _mm512_setzero_ps();
    for (long j = 0; j < n; ++j) {
        const __m512 bj = _mm512_loadu_ps(b + j * ldb);
        const float *aj = aT + 32 * j;
#pragma clang loop unroll(full)
        for (int r = 0; r < 16; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(aj[r]), bj, acc[r]);
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < 16; ++r)
        if (r < rows) _mm512_storeu_ps(out + r * ldo, _mm512_mul_ps(_mm512_set1_ps(factor[r * fs]), acc[r]));
}

// One head and query block at dh = 16. work: qT [16, 32], Sᵀ [n, 32], max/sum/inverse [3, 32].
static void forwardBlock16(long wq, long n, float scale, const float *q, long ldq, const float *kh, long ldk,
                           const float *vh, long ldv, float *out, long ldo, float *lse, float *sums, float *work) {
    float *qT = work, *s = qT + 16 * 32, *max = s + n * 32, *sum = max + 32, *inverseSum = sum + 32;
    transposeScaled(wq, 16, scale, q, ldq, qT, 32);
    __m512 m[4];
    long j0 = 0;
    for (; j0 + KEY_TILE <= n; j0 += KEY_TILE) scoreTile16(KEY_TILE, kh, ldk, qT, s, j0, m);
    switch (n - j0) {
        SCORE_REST(1) SCORE_REST(2) SCORE_REST(3) SCORE_REST(4) SCORE_REST(5) SCORE_REST(6)
        SCORE_REST(7) SCORE_REST(8) SCORE_REST(9) SCORE_REST(10) SCORE_REST(11)
    default: break;
    }
    _mm512_storeu_ps(max, swiftMax(m[0], m[2]));
    _mm512_storeu_ps(max + 16, swiftMax(m[1], m[3]));
    armmt_avx512_exp_columns32(s, n, max, sum, inverseSum);
    for (long i0 = 0; i0 < wq; i0 += 16)
        rowTile16(n, wq - i0 < 16 ? wq - i0 : 16, s + i0, vh, ldv, inverseSum + i0, 1, out + i0 * ldo, ldo);
    for (long i = 0; i < wq; ++i) lse[i] = max[i], sums[i] = sum[i];
}

void armmt_avx512_attention_forward(long lq, long n, long heads, long dh, float scale, const float *q, long ldq,
                                    const float *k, long ldk, long khs, const float *v, long ldv, long vhs, float *out,
                                    long ldo, float *lse, float *work, const armmt_prefetch_rows *next,
                                    long nextCount) {
    const long n4 = (n + 3) & ~3L, steps = heads * ((lq + QUERY_BLOCK - 1) / QUERY_BLOCK);
    long step = 0;
    float *qT = work, *s = qT + dh * QUERY_BLOCK, *stat = s + n4 * QUERY_BLOCK, *sums = stat + 3 * QUERY_BLOCK;
    for (long h = 0; h < heads; ++h)
        for (long i0 = 0; i0 < lq; i0 += QUERY_BLOCK) {
            const long wq = lq - i0 < QUERY_BLOCK ? lq - i0 : QUERY_BLOCK, st = (wq + 7) & ~7L;
            prefetchShare(next, nextCount, step++, steps);
            if (dh == 16) {
                forwardBlock16(wq, n, scale, q + i0 * ldq + h * dh, ldq, k + h * khs, ldk, v + h * vhs, ldv,
                               out + i0 * ldo + h * dh, ldo, lse + h * lq + i0, sums + h * lq + i0, work);
                continue;
            }
            // Sᵀ = K·(scale·Qᵀ) [n, st]; Pᵀ = e^(Sᵀ − max); O·rowsum = P·V straight into O's rows.
            armmt_avx512_transpose_scaled(wq, dh, scale, q + i0 * ldq + h * dh, ldq, qT, st);
            armmt_avx512_gemm(n, st, dh, k + h * khs, ldk, 1, qT, st, s, st);
            armmt_avx512_softmax_columns(s, n, n4, st, stat, stat + QUERY_BLOCK, stat + 2 * QUERY_BLOCK);
            armmt_avx512_gemm_rows_scaled(wq, dh, n, s, 1, st, v + h * vhs, ldv, out + i0 * ldo + h * dh, ldo, 0,
                                          stat + 2 * QUERY_BLOCK, 1);
            for (long i = 0; i < wq; ++i) lse[h * lq + i0 + i] = stat[i], sums[h * lq + i0 + i] = stat[QUERY_BLOCK + i];
        }
    // lse = max + log Σ for every head at once: one log per block was a chain of some 25
    // dependent operations the core could not overlap with the next block's work.
    armmt_avx512_add_log(heads * lq, lse, sums);
}

// ---- The backward at dh = 16: the general path's steps in one pass per product, each tile's
// epilogue going on from its registers (P from the score tile, D's chains from the dP tile), and
// no call per product. Every element is the general path's chain, in the same order, so the
// bits are the same. Rows of Pᵀ and dPᵀ are 32 wide whatever wq is: the lanes past wq come
// from zero queries and an lse of 0, and no product reads them.

// Pᵀ rows j0 … j0 + R − 1 = e^(K·(scale·Qᵀ) − lse), then dPᵀ's rows = V·dOᵀ and D's chains
// d[g] += P ⊙ dP in key order (armmt_avx512_probabilities_and_score_gradient's first loop).
ALWAYS_INLINE void probabilityTile16(const int R, long j0, const float *kh, long ldk, const float *vh, long ldv,
                                     const float *qT, const float *dOT, const __m512 lse[2], float *p, float *dP,
                                     __m512 d[2]) {
    __m512 acc[KEY_TILE][2];
    PRODUCT_TILE16(R, acc, kh + j0 * ldk, ldk, qT)
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r) {
        _mm512_storeu_ps(p + 32 * (j0 + r), exp16(_mm512_sub_ps(acc[r][0], lse[0])));
        _mm512_storeu_ps(p + 32 * (j0 + r) + 16, exp16(_mm512_sub_ps(acc[r][1], lse[1])));
    }
    PRODUCT_TILE16(R, acc, vh + j0 * ldv, ldv, dOT)
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r) {
        float *row = dP + 32 * (j0 + r);
        _mm512_storeu_ps(row, acc[r][0]);
        _mm512_storeu_ps(row + 16, acc[r][1]);
        d[0] = _mm512_fmadd_ps(_mm512_loadu_ps(p + 32 * (j0 + r)), acc[r][0], d[0]);
        d[1] = _mm512_fmadd_ps(_mm512_loadu_ps(p + 32 * (j0 + r) + 16), acc[r][1], d[1]);
    }
}

#define PROBABILITY_REST(R)                                                                                        \
    case R: probabilityTile16(R, j0, kh, ldk, vh, ldv, qT, dOT, l, p, dP, d); break;

// Keys per dK / dV tile: 16 accumulators, one row of Q or dO, the broadcasts.
#define KEY_GRAD_TILE 16

// Rows j0 … j0 + R − 1 of C (dK or dV: C = [C +] Aᵀ·X over the block's wq queries, A = dSᵀ or
// Pᵀ with rows of 32), times *factor when factor is not NULL: the chains of
// armmt_avx512_gemm_rows_scaled (and _gemm, _gemm_add) resumed from C's rows with fromC; the
// GEMM tile's inner loop (gemm_tile.h) with one 16-wide vector of columns.
ALWAYS_INLINE void keyGradientTile16(const int R, long j0, long wq, const float *a, const float *x, long ldx,
                                     float *c, long ldc, int fromC, const float *factor) {
    __m512 acc[KEY_GRAD_TILE][1];
    const operand rows = {a + 32 * j0, 32, 1, wq};
    c += j0 * ldc;
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r) acc[r][0] = fromC ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
    ACCUMULATE(R, 1, 0, rows, x, ldx, (__mmask16)0xffff)
    if (factor) {
        const __m512 f = _mm512_set1_ps(*factor);
#pragma clang loop unroll(full)
        for (int r = 0; r < R; ++r) acc[r][0] = _mm512_mul_ps(f, acc[r][0]);
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r) _mm512_storeu_ps(c + r * ldc, acc[r][0]);
}

#define KEY_GRAD_REST(R)                                                                                           \
    case R: keyGradientTile16(R, j0, wq, a, x, ldx, c, ldc, fromC, factor); break;

static void keyGradient16(long n, long wq, const float *a, const float *x, long ldx, float *c, long ldc, int fromC,
                          const float *factor) {
    long j0 = 0;
    for (; j0 + KEY_GRAD_TILE <= n; j0 += KEY_GRAD_TILE)
        keyGradientTile16(KEY_GRAD_TILE, j0, wq, a, x, ldx, c, ldc, fromC, factor);
    switch (n - j0) {
        KEY_GRAD_REST(1) KEY_GRAD_REST(2) KEY_GRAD_REST(3) KEY_GRAD_REST(4) KEY_GRAD_REST(5)
        KEY_GRAD_REST(6) KEY_GRAD_REST(7) KEY_GRAD_REST(8) KEY_GRAD_REST(9) KEY_GRAD_REST(10)
        KEY_GRAD_REST(11) KEY_GRAD_REST(12) KEY_GRAD_REST(13) KEY_GRAD_REST(14) KEY_GRAD_REST(15)
    default: break;
    }
}

// One head and query block at dh = 16. work: qT, dOT [16, 32], Pᵀ, dPᵀ [n, 32].
static void backwardBlock16(long wq, long n, float scale, const float *q, long ldq, const float *dO, long lddo,
                            const float *kh, long ldk, const float *vh, long ldv, const float *lse, float *dQ,
                            long lddq, float *dK, long lddk, float *dV, long lddv, int later, int lastBlock,
                            float *work) {
    float *qT = work, *dOT = qT + 16 * 32, *p = dOT + 16 * 32, *dP = p + ((n + 3) & ~3L) * 32;
    transposeScaled(wq, 16, scale, q, ldq, qT, 32);
    transposeScaled(wq, 16, 1.0f, dO, lddo, dOT, 32);
    const __m512 l[2] = {_mm512_maskz_loadu_ps(lanesBelow(wq), lse),
                         _mm512_maskz_loadu_ps(lanesBelow(wq - 16 > 0 ? wq - 16 : 0), lse + 16)};
    __m512 d[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    long j0 = 0;
    for (; j0 + KEY_TILE <= n; j0 += KEY_TILE) probabilityTile16(KEY_TILE, j0, kh, ldk, vh, ldv, qT, dOT, l, p, dP, d);
    switch (n - j0) {
        PROBABILITY_REST(1) PROBABILITY_REST(2) PROBABILITY_REST(3) PROBABILITY_REST(4) PROBABILITY_REST(5)
        PROBABILITY_REST(6) PROBABILITY_REST(7) PROBABILITY_REST(8) PROBABILITY_REST(9) PROBABILITY_REST(10)
        PROBABILITY_REST(11)
    default: break;
    }
    // dSᵀ = Pᵀ ⊙ (dPᵀ − D), in place of dPᵀ.
    for (long j = 0; j < n; ++j)
#pragma clang loop unroll(full)
        for (int g = 0; g < 2; ++g) {
            float *r = dP + 32 * j + 16 * g;
            _mm512_storeu_ps(r, _mm512_mul_ps(_mm512_loadu_ps(p + 32 * j + 16 * g), _mm512_sub_ps(_mm512_loadu_ps(r), d[g])));
        }
    for (long i0 = 0; i0 < wq; i0 += 16)
        rowTile16(n, wq - i0 < 16 ? wq - i0 : 16, dP + i0, kh, ldk, &scale, 0, dQ + i0 * lddq, lddq);
    keyGradient16(n, wq, dP, q, ldq, dK, lddk, later, lastBlock ? &scale : 0);
    keyGradient16(n, wq, p, dO, lddo, dV, lddv, later, 0);
}

void armmt_avx512_attention_backward(long lq, long n, long heads, long dh, float scale, const float *q, long ldq,
                                     const float *dO, long lddo, const float *k, long ldk, long khs, const float *v,
                                     long ldv, long vhs, const float *lse, float *dQ, long lddq, float *dK, long lddk,
                                     float *dV, long lddv, float *work, const armmt_prefetch_rows *next,
                                     long nextCount) {
    const long n4 = (n + 3) & ~3L, steps = heads * ((lq + QUERY_BLOCK - 1) / QUERY_BLOCK);
    long step = 0;
    float *qT = work, *dOT = qT + dh * QUERY_BLOCK, *s = dOT + dh * QUERY_BLOCK, *dP = s + n4 * QUERY_BLOCK;
    float *stat = dP + n4 * QUERY_BLOCK;
    for (long h = 0; h < heads; ++h) {
        const float *kh = k + h * khs, *vh = v + h * vhs;
        float *dKh = dK + h * dh, *dVh = dV + h * dh;
        for (long i0 = 0; i0 < lq; i0 += QUERY_BLOCK) {
            const long wq = lq - i0 < QUERY_BLOCK ? lq - i0 : QUERY_BLOCK, st = (wq + 7) & ~7L;
            const float *qb = q + i0 * ldq + h * dh, *dOb = dO + i0 * lddo + h * dh;
            prefetchShare(next, nextCount, step++, steps);
            const int later = i0 > 0, lastBlock = i0 + QUERY_BLOCK >= lq;
            if (dh == 16) {
                backwardBlock16(wq, n, scale, qb, ldq, dOb, lddo, kh, ldk, vh, ldv, lse + h * lq + i0,
                                dQ + i0 * lddq + h * dh, lddq, dKh, lddk, dVh, lddv, later, lastBlock, work);
                continue;
            }
            armmt_avx512_transpose_scaled(wq, dh, scale, qb, ldq, qT, st);
            armmt_avx512_transpose_scaled(wq, dh, 1.0f, dOb, lddo, dOT, st);
            for (long i = 0; i < st; ++i) stat[i] = i < wq ? lse[h * lq + i0 + i] : 0.0f;
            // Pᵀ = e^(Sᵀ − lse), dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ⊙ (dPᵀ − D).
            armmt_avx512_gemm(n, st, dh, kh, ldk, 1, qT, st, s, st);
            armmt_avx512_gemm(n, st, dh, vh, ldv, 1, dOT, st, dP, st);
            armmt_avx512_probabilities_and_score_gradient(s, dP, n, n4, st, stat);
            // dQ = scale·(dS·K); dK/scale = dSᵀ·Q and dV = Pᵀ·dO, their chains over the query
            // blocks resumed from the last block's sums.
            armmt_avx512_gemm_rows_scaled(wq, dh, n, dP, 1, st, kh, ldk, dQ + i0 * lddq + h * dh, lddq, 0, &scale, 0);
            armmt_avx512_gemm_rows_scaled(n, dh, wq, dP, st, 1, qb, ldq, dKh, lddk, later, lastBlock ? &scale : 0, 0);
            (later ? armmt_avx512_gemm_add : armmt_avx512_gemm)(n, dh, wq, s, st, 1, dOb, lddo, dVh, lddv);
        }
    }
}

#pragma clang attribute pop

#else

// Never called off x86-64 (armmt_cpu_has_avx512_skx() is 0 there); defined so the module links.
void armmt_avx512_transpose_scaled(long rows, long width, float factor, const float *src, long ld, float *dst,
                                   long ldd) {
    __builtin_trap();
}

void armmt_avx512_attention_forward(long lq, long n, long heads, long dh, float scale, const float *q, long ldq,
                                    const float *k, long ldk, long khs, const float *v, long ldv, long vhs, float *out,
                                    long ldo, float *lse, float *work, const armmt_prefetch_rows *next,
                                    long nextCount) {
    __builtin_trap();
}

void armmt_avx512_attention_backward(long lq, long n, long heads, long dh, float scale, const float *q, long ldq,
                                     const float *dO, long lddo, const float *k, long ldk, long khs, const float *v,
                                     long ldv, long vhs, const float *lse, float *dQ, long lddq, float *dK, long lddk,
                                     float *dV, long lddv, float *work, const armmt_prefetch_rows *next,
                                     long nextCount) {
    __builtin_trap();
}

#endif
