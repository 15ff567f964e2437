#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>

// The fused attention forward and backward of one sample (AttentionFastPath's per-head loops),
// in one call each: no Swift between the products, no staging buffers, the products in
// armmt_avx512_gemm's tiles. Each step is the one the Swift
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

// Step `step` of `steps`: prefetches that share of every block's rows, each 64-byte line of
// them. The backward spreads the next sample's lines over its head × query-block steps: issued
// all at once before the sample (a thousand lines), they filled the core's miss buffers, so the
// sample's own first loads waited behind them, and they pushed its operands out of L1.
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

ALWAYS_INLINE __mmask16 lanesBelow(long n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

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
    float *qT = work, *s = qT + dh * QUERY_BLOCK, *stat = s + n4 * QUERY_BLOCK, *sums = stat + 3 * QUERY_BLOCK;
    for (long h = 0; h < heads; ++h)
        for (long i0 = 0; i0 < lq; i0 += QUERY_BLOCK) {
            const long wq = lq - i0 < QUERY_BLOCK ? lq - i0 : QUERY_BLOCK, st = (wq + 7) & ~7L;
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
                                    long ldo, float *lse, float *work) {
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
