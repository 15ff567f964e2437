#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#include "avx512_inline.h"

// Stores 16 floats, bypassing the cache when `stream`: a normal store first reads every line
// it writes (write-allocate). Used for hp, which only the backward reads, and dx, the
// backward's largest output (4 MB at the default shapes, more than L2): streaming it made the
// op 3–12% faster in the kernel bench. r, half dx's size, is stored normally for the
// next op.
ALWAYS_INLINE void store16(float *p, __m512 v, __mmask16 mask, int stream) {
    if (stream) _mm512_stream_ps(p, v);
    else _mm512_mask_storeu_ps(p, mask, v);
}

// The part of the forward after the first layer's product, one row at a time for `rows` rows:
// hp = pre + b1 (streamed: saved for the backward, not read again in the forward), pre becomes
// ReLU(hp) in place, and with gateRows > 0 logits[r, c] = ReLU(hp)·w2[c] for c < gateRows.
void armmt_avx512_cafu_hidden(long rows, long h, long gateRows, float *pre, const float *b1, const float *w2,
                              float *hp, float *logits) {
    const int stream = ((uintptr_t)hp & 63) == 0 && h % 16 == 0;
    for (long i = 0; i < rows; ++i) {
        float *pr = pre + i * h, *hr = hp + i * h;
        for (long j = 0; j < h; j += 16) {
            const __mmask16 lanes = lanesBelow(h - j);
            const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, pr + j), _mm512_maskz_loadu_ps(lanes, b1 + j));
            store16(hr + j, v, lanes, stream);
            _mm512_mask_storeu_ps(pr + j, lanes, _mm512_max_ps(v, _mm512_setzero_ps()));
        }
        for (long c = 0; c < gateRows; ++c) {
            const float *wc = w2 + c * h;
            __m512 acc = _mm512_setzero_ps();
            for (long j = 0; j < h; j += 16) {
                const __mmask16 lanes = lanesBelow(h - j);
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes, pr + j), _mm512_maskz_loadu_ps(lanes, wc + j), acc);
            }
            logits[i * gateRows + c] = _mm512_reduce_add_ps(acc);
        }
    }
    if (stream) _mm_sfence();
}

// r = Σ over present modalities of α_m ⊙ x_m (α_m one scalar when dg = 1), 0 when none is
// present.
void armmt_avx512_cafu_mix(long rows, long m, long d, long dg, const float *mask, const float *alpha, const float *x,
                           float *r) {
    for (long i = 0; i < rows; ++i) {
        const float *mk = mask + i * m;
        for (long j = 0; j < d; j += 16) {
            const __mmask16 lanes = lanesBelow(d - j);
            __m512 acc = _mm512_setzero_ps();
            for (long mm = 0; mm < m; ++mm) {
                if (mk[mm] == 0) continue;
                const float *am = alpha + (i * m + mm) * dg;
                const __m512 a = dg == 1 ? _mm512_set1_ps(am[0]) : _mm512_maskz_loadu_ps(lanes, am + j);
                acc = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(lanes, x + (i * m + mm) * d + j), acc);
            }
            _mm512_mask_storeu_ps(r + i * d + j, lanes, acc);
        }
    }
}

void armmt_avx512_cafu_dx(long rows, long m, long d, long dg, const float *mask, const float *alpha,
                          const float *dr, const float *dz, float *dx) {
    const int stream = ((uintptr_t)dx & 63) == 0 && d % 16 == 0;
    for (long i = 0; i < rows; ++i) {
        const float *mk = mask + i * m, *dri = dr + i * d, *dzi = dz + i * d;
        long count = 0;
        for (long mm = 0; mm < m; ++mm) count += mk[mm] != 0;
        const __m512 share = _mm512_set1_ps(count > 0 ? 1.0f / (float)count : 0.0f);
        for (long mm = 0; mm < m; ++mm) {
            float *dxm = dx + (i * m + mm) * d;
            const float *am = alpha + (i * m + mm) * dg;
            const int present = mk[mm] != 0;
            for (long j = 0; j < d; j += 16) {
                const __mmask16 lanes = lanesBelow(d - j);
                __m512 v = _mm512_setzero_ps();
                if (present) {
                    const __m512 a = dg == 1 ? _mm512_set1_ps(am[0]) : _mm512_maskz_loadu_ps(lanes, am + j);
                    const __m512 z = _mm512_mul_ps(share, _mm512_maskz_loadu_ps(lanes, dzi + j));
                    v = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(lanes, dri + j), z);
                }
                store16(dxm + j, v, lanes, stream);
            }
        }
    }
    if (stream) _mm_sfence();
}

#pragma clang attribute pop

#else

// Never called off x86-64 (armmt_cpu_has_avx512_skx() is 0 there); defined so the module links.
void armmt_avx512_cafu_hidden(long rows, long h, long gateRows, float *pre, const float *b1, const float *w2,
                              float *hp, float *logits) {
    (void)rows, (void)h, (void)gateRows, (void)pre, (void)b1, (void)w2, (void)hp, (void)logits;
    __builtin_trap();
}

void armmt_avx512_cafu_mix(long rows, long m, long d, long dg, const float *mask, const float *alpha, const float *x,
                           float *r) {
    (void)rows, (void)m, (void)d, (void)dg, (void)mask, (void)alpha, (void)x, (void)r;
    __builtin_trap();
}

void armmt_avx512_cafu_dx(long rows, long m, long d, long dg, const float *mask, const float *alpha,
                          const float *dr, const float *dz, float *dx) {
    (void)rows, (void)m, (void)d, (void)dg, (void)mask, (void)alpha, (void)dr, (void)dz, (void)dx;
    __builtin_trap();
}

#endif
