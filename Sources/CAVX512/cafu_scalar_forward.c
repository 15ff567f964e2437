#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#include "avx512_inline.h"
#include "avx512_math.h"
#include "gemm_tile.h"

// The scalar gate's forward after pooling, fused per register tile of rows: the first layer's
// accumulators go straight on to bias, ReLU, the gate logits, the softmax and the mix, so
// nothing but hp, α and r is written. As separate passes over each 256-row block (the product
// into a buffer, then bias + ReLU + logits, the softmax, the mix) the bench's default shape
// took a median 903.9 µs over eight alternating runs; fused, 836.2 µs (BENCHMARKS.md,
// session 15). The product's loop is the GEMM's (gemm_tile.h).

typedef struct {
    long m, d, dc, h;
    const float *w1T, *b1, *w2, *b2;
    __mmask16 last;
    int stream;
} forwardShape;

// Rows of one tile, each pointer at the tile's first row.
typedef struct {
    const float *z, *ctx, *mask, *x;
    long ldz, ldc;
    float *hp, *alpha, *r;
} forwardRows;

// hp = b1 + [z ⊕ ctx]·W1ᵀ for R rows (V vectors of 16 hidden units, the last masked), then per
// row: logits = ReLU(hp)·W2ᵀ + b2, α = softmax over the present modalities (0 for absent ones,
// all 0 when none is present), r = Σ α_m·x_m.
ALWAYS_INLINE void forwardTile(const int R, const int V, const forwardShape *s, forwardRows t) {
    __m512 acc[12][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r)
#pragma clang loop unroll(full)
        for (int v = 0; v < V; ++v)
            acc[r][v] = v == V - 1 ? _mm512_maskz_loadu_ps(s->last, s->b1 + 16 * v) : _mm512_loadu_ps(s->b1 + 16 * v);
    const operand z = {t.z, t.ldz, 1, s->d}, ctx = {t.ctx, t.ldc, 1, s->dc};
    ACCUMULATE(R, V, 0, z, s->w1T, s->h, s->last)
    ACCUMULATE(R, V, 0, ctx, s->w1T + s->d * s->h, s->h, s->last)
    const long m = s->m, d = s->d, h = s->h;
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r) {
        float *hr = t.hp + r * h;
#pragma clang loop unroll(full)
        for (int v = 0; v < V; ++v) {
            if (s->stream) _mm512_stream_ps(hr + 16 * v, acc[r][v]);
            else _mm512_mask_storeu_ps(hr + 16 * v, v == V - 1 ? s->last : 0xffff, acc[r][v]);
            acc[r][v] = _mm512_max_ps(acc[r][v], _mm512_setzero_ps());
        }
        // mask[c] != 0, NaN included, as the Swift path reads it.
        const __mmask16 present = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(lanesBelow(m), t.mask + r * m),
                                                     _mm512_setzero_ps(), _CMP_NEQ_UQ) & lanesBelow(m);
        // The logits stay in registers: a vector built from scalars through memory would wait
        // for the stores to retire (no store-to-load forwarding into a wider load).
        __m512 lg = _mm512_setzero_ps();
        for (__mmask16 left = present; left; left &= left - 1) {
            const int c = __builtin_ctz(left);
            const float *wc = s->w2 + c * h;
            __m512 dot = _mm512_mul_ps(acc[r][0], V == 1 ? _mm512_maskz_loadu_ps(s->last, wc) : _mm512_loadu_ps(wc));
#pragma clang loop unroll(full)
            for (int v = 1; v < V; ++v)
                dot = _mm512_fmadd_ps(acc[r][v], v == V - 1 ? _mm512_maskz_loadu_ps(s->last, wc + 16 * v) : _mm512_loadu_ps(wc + 16 * v), dot);
            lg = _mm512_mask_mov_ps(lg, (__mmask16)(1u << c), _mm512_set1_ps(_mm512_reduce_add_ps(dot) + s->b2[c]));
        }
        const __m512 e = _mm512_maskz_mov_ps(present, expNotAbove88(_mm512_sub_ps(lg, _mm512_set1_ps(_mm512_mask_reduce_max_ps(present, lg)))));
        const float sum = _mm512_reduce_add_ps(e);
        const __m512 al = _mm512_mul_ps(e, _mm512_set1_ps(sum > 0 ? 1 / sum : 0));
        _mm512_mask_storeu_ps(t.alpha + r * m, lanesBelow(m), al);
        const float *xr = t.x + r * m * d;
        float *rr = t.r + r * d;
        for (long j = 0; j < d; j += 16) {
            const __mmask16 lanes = lanesBelow(d - j);
            __m512 out = _mm512_setzero_ps();
            for (__mmask16 left = present; left; left &= left - 1) {
                const int c = __builtin_ctz(left);
                out = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_set1_epi32(c), al), _mm512_maskz_loadu_ps(lanes, xr + c * d + j), out);
            }
            _mm512_mask_storeu_ps(rr + j, lanes, out);
        }
    }
}

ALWAYS_INLINE forwardRows advance(forwardRows t, long rows, const forwardShape *s) {
    t.z += rows * t.ldz, t.ctx += rows * t.ldc, t.mask += rows * s->m, t.x += rows * s->m * s->d;
    t.hp += rows * s->h, t.alpha += rows * s->m, t.r += rows * s->d;
    return t;
}

// All rows in tiles of RMAX, then one tile of the rest; RMAX as in gemm.c's panels.
#define FORWARD_REST(R, V, RMAX)                                                                                   \
    case R: forwardTile(R < RMAX ? R : RMAX - 1, V, s, t); break;
#define FORWARD_ROWS(V, RMAX)                                                                                      \
    static void forwardRows##V(long rows, const forwardShape *s, forwardRows t) {                                  \
        long i = 0;                                                                                                \
        for (; i + RMAX <= rows; i += RMAX) {                                                                      \
            forwardTile(RMAX, V, s, t);                                                                            \
            t = advance(t, RMAX, s);                                                                               \
        }                                                                                                          \
        switch (rows - i) {                                                                                        \
            FORWARD_REST(1, V, RMAX) FORWARD_REST(2, V, RMAX) FORWARD_REST(3, V, RMAX)                             \
            FORWARD_REST(4, V, RMAX) FORWARD_REST(5, V, RMAX) FORWARD_REST(6, V, RMAX)                             \
            FORWARD_REST(7, V, RMAX) FORWARD_REST(8, V, RMAX) FORWARD_REST(9, V, RMAX)                             \
            FORWARD_REST(10, V, RMAX) FORWARD_REST(11, V, RMAX)                                                    \
        default: break;                                                                                            \
        }                                                                                                          \
    }

FORWARD_ROWS(1, 12)
FORWARD_ROWS(2, 12)
FORWARD_ROWS(3, 8)
FORWARD_ROWS(4, 6)

void armmt_avx512_cafu_scalar_forward(long rows, long m, long d, long dc, long h, const float *z, long ldz,
                                      const float *ctx, long ldc, const float *w1T, const float *b1, const float *w2,
                                      const float *b2, const float *mask, const float *x, float *hp, float *alpha,
                                      float *r) {
    const long vectors = (h + 15) / 16;
    const forwardShape s = {m, d, dc, h, w1T, b1, w2, b2, lanesBelow(h - 16 * (vectors - 1)),
                            ((uintptr_t)hp & 63) == 0 && h % 16 == 0};
    const forwardRows t = {z, ctx, mask, x, ldz, ldc, hp, alpha, r};
    switch (vectors) {
    case 1: forwardRows1(rows, &s, t); break;
    case 2: forwardRows2(rows, &s, t); break;
    case 3: forwardRows3(rows, &s, t); break;
    default: forwardRows4(rows, &s, t); break;
    }
    if (s.stream) _mm_sfence();
}

#pragma clang attribute pop

#else

// Never called off x86-64 (armmt_cpu_has_avx512_skx() is 0 there); defined so the module links.
void armmt_avx512_cafu_scalar_forward(long rows, long m, long d, long dc, long h, const float *z, long ldz,
                                      const float *ctx, long ldc, const float *w1T, const float *b1, const float *w2,
                                      const float *b2, const float *mask, const float *x, float *hp, float *alpha,
                                      float *r) {
    __builtin_trap();
}

#endif
