#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>

// The fused attention forward of one sample (AttentionFastPath.forward's per-head loop), in one
// call: no Swift between the products, no staging buffer for O. Each step is the one the Swift
// loop runs, with the same operations in the same order, so the bits are those of the Swift
// path (and of the AVX2 unit).
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#define ALWAYS_INLINE static inline __attribute__((always_inline))

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

ALWAYS_INLINE __mmask16 lanesBelow(long n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

// The products whose result has head columns (O, dQ, dK, dV): C [rows, dh] = A·B with B's rows
// [k, dh] (row stride ldb) and A[r, l] = a[r·lda + l·acs], each chain over l in order from 0, or
// from C's stored value with fromC (a later query block), as armmt_avx512_gemm's tiles run
// them. When `factor` is set the tile stores factor[r·fs]·acc (1/Σ per query, or the softmax
// scale for every row), so no second pass over C scales it.
typedef struct {
    const float *a;
    long lda, acs, k;
    const float *b;
    long ldb;
    float *c;
    long ldc;
    int fromC;
    const float *factor;
    long fs;
} headProduct;

// One register tile: R rows × V vectors of 16 head columns, the last vector masked by `last`.
// AT (a constant): A is read transposed, lda = 1, so a tile's R broadcasts are consecutive
// floats instead of R addresses lda apart (which cost registers and spills).
ALWAYS_INLINE void headTile(const int R, const int V, const int AT, headProduct p, __mmask16 last) {
    __m512 acc[16][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r)
#pragma clang loop unroll(full)
        for (int c = 0; c < V; ++c) {
            const float *f = p.c + r * p.ldc + 16 * c;
            acc[r][c] = !p.fromC ? _mm512_setzero_ps() : c == V - 1 ? _mm512_maskz_loadu_ps(last, f) : _mm512_loadu_ps(f);
        }
    for (long l = 0; l < p.k; ++l) {
        const float *bl = p.b + l * p.ldb, *al = p.a + l * p.acs;
        __m512 bv[4];
#pragma clang loop unroll(full)
        for (int c = 0; c < V; ++c) bv[c] = c == V - 1 ? _mm512_maskz_loadu_ps(last, bl + 16 * c) : _mm512_loadu_ps(bl + 16 * c);
#pragma clang loop unroll(full)
        for (int r = 0; r < R; ++r) {
            const __m512 x = _mm512_set1_ps(al[AT ? r : r * p.lda]);
#pragma clang loop unroll(full)
            for (int c = 0; c < V; ++c) acc[r][c] = _mm512_fmadd_ps(x, bv[c], acc[r][c]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r) {
        const __m512 f = _mm512_set1_ps(p.factor ? p.factor[r * p.fs] : 1.0f);
#pragma clang loop unroll(full)
        for (int c = 0; c < V; ++c) {
            const __m512 y = p.factor ? _mm512_mul_ps(f, acc[r][c]) : acc[r][c];
            float *cr = p.c + r * p.ldc + 16 * c;
            if (c == V - 1) _mm512_mask_storeu_ps(cr, last, y);
            else _mm512_storeu_ps(cr, y);
        }
    }
}

// Every row of one panel of V vectors: tiles of RMAX rows (R·V ≤ 16 accumulators), then the rest.
#define HEAD_CASE(R, V, RMAX, AT) case R: headTile(R < RMAX ? R : RMAX - 1, V, AT, p, last); break;
#define HEAD_PANEL(V, RMAX, AT)                                                                                    \
    static void headPanel##V##AT(long rows, headProduct p, __mmask16 last) {                                       \
        long i = 0;                                                                                                \
        for (; i + RMAX <= rows; i += RMAX) {                                                                      \
            headTile(RMAX, V, AT, p, last);                                                                        \
            p.a += RMAX * p.lda, p.c += RMAX * p.ldc;                                                              \
            if (p.factor) p.factor += RMAX * p.fs;                                                                 \
        }                                                                                                          \
        switch (rows - i) {                                                                                        \
            HEAD_CASE(1, V, RMAX, AT) HEAD_CASE(2, V, RMAX, AT) HEAD_CASE(3, V, RMAX, AT) HEAD_CASE(4, V, RMAX, AT)                \
            HEAD_CASE(5, V, RMAX, AT) HEAD_CASE(6, V, RMAX, AT) HEAD_CASE(7, V, RMAX, AT) HEAD_CASE(8, V, RMAX, AT)                \
            HEAD_CASE(9, V, RMAX, AT) HEAD_CASE(10, V, RMAX, AT) HEAD_CASE(11, V, RMAX, AT) HEAD_CASE(12, V, RMAX, AT)             \
            HEAD_CASE(13, V, RMAX, AT) HEAD_CASE(14, V, RMAX, AT) HEAD_CASE(15, V, RMAX, AT)                                   \
        default: break;                                                                                            \
        }                                                                                                          \
    }
HEAD_PANEL(1, 16, 0)
HEAD_PANEL(2, 8, 0)
HEAD_PANEL(3, 5, 0)
HEAD_PANEL(4, 4, 0)
HEAD_PANEL(1, 16, 1)
HEAD_PANEL(2, 8, 1)
HEAD_PANEL(3, 5, 1)
HEAD_PANEL(4, 4, 1)

// C's `rows` rows over dh head columns, in column panels of 64.
static void headProductRun(long rows, long dh, headProduct p) {
    for (long c0 = 0; c0 < dh; c0 += 64) {
        const long width = dh - c0 < 64 ? dh - c0 : 64, vectors = (width + 15) / 16;
        const __mmask16 last = lanesBelow(width - 16 * (vectors - 1));
        headProduct q = p;
        q.b += c0, q.c += c0;
        switch (vectors) {
        case 1: p.lda == 1 ? headPanel11(rows, q, last) : headPanel10(rows, q, last); break;
        case 2: p.lda == 1 ? headPanel21(rows, q, last) : headPanel20(rows, q, last); break;
        case 3: p.lda == 1 ? headPanel31(rows, q, last) : headPanel30(rows, q, last); break;
        default: p.lda == 1 ? headPanel41(rows, q, last) : headPanel40(rows, q, last); break;
        }
    }
}

void armmt_avx512_transpose_scaled(long rows, long width, float factor, const float *src, long ld, float *dst,
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

void armmt_avx512_attention_forward(long lq, long n, long heads, long dh, float scale, const float *q, long ldq,
                                    const float *k, long ldk, long khs, const float *v, long ldv, long vhs, float *out,
                                    long ldo, float *lse, float *work) {
    const long n4 = (n + 3) & ~3L;
    float *qT = work, *s = qT + dh * QUERY_BLOCK, *stat = s + n4 * QUERY_BLOCK;
    for (long h = 0; h < heads; ++h)
        for (long i0 = 0; i0 < lq; i0 += QUERY_BLOCK) {
            const long wq = lq - i0 < QUERY_BLOCK ? lq - i0 : QUERY_BLOCK, st = (wq + 7) & ~7L;
            // Sᵀ = K·(scale·Qᵀ) [n, st]; Pᵀ = e^(Sᵀ − max); O·rowsum = P·V straight into O's rows.
            armmt_avx512_transpose_scaled(wq, dh, scale, q + i0 * ldq + h * dh, ldq, qT, st);
            armmt_avx512_gemm(n, st, dh, k + h * khs, ldk, 1, qT, st, s, st);
            armmt_avx512_softmax_columns(s, n, n4, st, stat, stat + QUERY_BLOCK);
            const headProduct o = {s, 1, st, n, v + h * vhs, ldv, out + i0 * ldo + h * dh, ldo, 0, stat + QUERY_BLOCK, 1};
            headProductRun(wq, dh, o);
            for (long i = 0; i < wq; ++i) lse[h * lq + i0 + i] = stat[i];
        }
}

void armmt_avx512_attention_backward(long lq, long n, long heads, long dh, float scale, const float *q, long ldq,
                                     const float *dO, long lddo, const float *k, long ldk, long khs, const float *v,
                                     long ldv, long vhs, const float *lse, float *dQ, long lddq, float *dK, long lddk,
                                     float *dV, long lddv, float *work) {
    const long n4 = (n + 3) & ~3L;
    float *qT = work, *dOT = qT + dh * QUERY_BLOCK, *s = dOT + dh * QUERY_BLOCK, *dP = s + n4 * QUERY_BLOCK;
    float *stat = dP + n4 * QUERY_BLOCK;
    for (long h = 0; h < heads; ++h) {
        const float *kh = k + h * khs, *vh = v + h * vhs;
        float *dKh = dK + h * dh, *dVh = dV + h * dh;
        for (long i0 = 0; i0 < lq; i0 += QUERY_BLOCK) {
            const long wq = lq - i0 < QUERY_BLOCK ? lq - i0 : QUERY_BLOCK, st = (wq + 7) & ~7L;
            const float *qb = q + i0 * ldq + h * dh, *dOb = dO + i0 * lddo + h * dh;
            armmt_avx512_transpose_scaled(wq, dh, scale, qb, ldq, qT, st);
            armmt_avx512_transpose_scaled(wq, dh, 1.0f, dOb, lddo, dOT, st);
            for (long i = 0; i < st; ++i) stat[i] = i < wq ? lse[h * lq + i0 + i] : 0.0f;
            // Pᵀ = e^(Sᵀ − lse), dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ⊙ (dPᵀ − D).
            armmt_avx512_gemm(n, st, dh, kh, ldk, 1, qT, st, s, st);
            armmt_avx512_gemm(n, st, dh, vh, ldv, 1, dOT, st, dP, st);
            armmt_avx512_probabilities_and_score_gradient(s, dP, n, n4, st, stat);
            // dQ = scale·(dS·K); dK/scale = dSᵀ·Q and dV = Pᵀ·dO, their chains over the query
            // blocks resumed from the last block's sums.
            const int later = i0 > 0, lastBlock = i0 + QUERY_BLOCK >= lq;
            const headProduct dQp = {dP, 1, st, n, kh, ldk, dQ + i0 * lddq + h * dh, lddq, 0, &scale, 0};
            const headProduct dKp = {dP, st, 1, wq, qb, ldq, dKh, lddk, later, lastBlock ? &scale : 0, 0};
            const headProduct dVp = {s, st, 1, wq, dOb, lddo, dVh, lddv, later, 0, 0};
            headProductRun(wq, dh, dQp);
            headProductRun(n, dh, dKp);
            headProductRun(n, dh, dVp);
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
                                    long ldo, float *lse, float *work) {
    __builtin_trap();
}

void armmt_avx512_attention_backward(long lq, long n, long heads, long dh, float scale, const float *q, long ldq,
                                     const float *dO, long lddo, const float *k, long ldk, long khs, const float *v,
                                     long ldv, long vhs, const float *lse, float *dQ, long lddq, float *dK, long lddk,
                                     float *dV, long lddv, float *work) {
    __builtin_trap();
}

#endif
