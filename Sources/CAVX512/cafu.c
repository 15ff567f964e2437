#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

// Stores 16 floats, bypassing the cache when `stream`: for hp, which the forward writes once
// and only the backward reads, after the rest of the model's forward pass. A normal store
// first reads every line it writes (write-allocate). Outputs the next op reads at once (r, dx)
// are stored normally, so they are still in cache for it.
static inline __attribute__((always_inline)) void store16(float *p, __m512 v, __mmask16 mask, int stream) {
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
            const __mmask16 lanes = h - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (h - j)) - 1);
            const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, pr + j), _mm512_maskz_loadu_ps(lanes, b1 + j));
            store16(hr + j, v, lanes, stream);
            _mm512_mask_storeu_ps(pr + j, lanes, _mm512_max_ps(v, _mm512_setzero_ps()));
        }
        for (long c = 0; c < gateRows; ++c) {
            const float *wc = w2 + c * h;
            __m512 acc = _mm512_setzero_ps();
            for (long j = 0; j < h; j += 16) {
                const __mmask16 lanes = h - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (h - j)) - 1);
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
            const __mmask16 lanes = d - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d - j)) - 1);
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

#define LANES(n, j) ((n) - (j) >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << ((n) - (j))) - 1))

// The gate's backward, one row at a time: da = α(γ − Σ_m α γ) with γ = ∂L/∂α, through r and
// dAlpha; db2 += da; relu = ReLU(hp); with inlineGate, ds = (W2ᵀ·da) ⊙ [hp > 0], db1 += ds and
// dW2 += da ⊗ relu, written out per row (the scalar gate's G ≤ 8 rows).
void armmt_avx512_cafu_gate_backward(long rows, long m, long d, long h, long dg, int inlineGate, const float *mask,
                                     const float *alpha, const float *dr, const float *dAlpha, const float *x,
                                     const float *hp, const float *w2, float *dA, float *relu, float *dS, float *db1,
                                     float *db2, float *dW2) {
    const long g = m * dg;
    float grad[m * (dg == 1 ? 1 : 16)];
    for (long i = 0; i < rows; ++i) {
        const float *mk = mask + i * m, *al = alpha + i * m * dg, *dri = dr + i * d;
        float *da = dA + i * g;
        if (dg == 1) {
            float s = 0;
            for (long mm = 0; mm < m; ++mm) {
                float gm = dAlpha ? dAlpha[i * m + mm] : 0;
                if (mk[mm] != 0) {
                    const float *xm = x + (i * m + mm) * d;
                    __m512 acc = _mm512_setzero_ps();
                    for (long j = 0; j < d; j += 16) {
                        const __mmask16 lanes = LANES(d, j);
                        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes, dri + j), _mm512_maskz_loadu_ps(lanes, xm + j), acc);
                    }
                    gm += _mm512_reduce_add_ps(acc);
                }
                grad[mm] = gm;
                s = __builtin_fmaf(al[mm], gm, s);
            }
            for (long mm = 0; mm < m; ++mm) da[mm] = al[mm] * (grad[mm] - s);
        } else {
            for (long j = 0; j < dg; j += 16) {
                const __mmask16 lanes = LANES(dg, j);
                const __m512 dv = _mm512_maskz_loadu_ps(lanes, dri + j);
                __m512 s = _mm512_setzero_ps();
                for (long mm = 0; mm < m; ++mm) {
                    __m512 gm = dAlpha ? _mm512_maskz_loadu_ps(lanes, dAlpha + (i * m + mm) * dg + j) : _mm512_setzero_ps();
                    if (mk[mm] != 0) gm = _mm512_fmadd_ps(dv, _mm512_maskz_loadu_ps(lanes, x + (i * m + mm) * d + j), gm);
                    _mm512_storeu_ps(grad + 16 * mm, gm);
                    s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes, al + mm * dg + j), gm, s);
                }
                for (long mm = 0; mm < m; ++mm) {
                    const __m512 a = _mm512_maskz_loadu_ps(lanes, al + mm * dg + j);
                    _mm512_mask_storeu_ps(da + mm * dg + j, lanes, _mm512_mul_ps(a, _mm512_sub_ps(_mm512_loadu_ps(grad + 16 * mm), s)));
                }
            }
        }
        for (long c = 0; c < g; ++c) db2[c] += da[c];
        const float *hr = hp + i * h;
        float *rl = relu + i * h, *ds = dS + i * h;
        for (long j = 0; j < h; j += 16) {
            const __mmask16 lanes = LANES(h, j);
            const __m512 v = _mm512_maskz_loadu_ps(lanes, hr + j);
            const __m512 r = _mm512_max_ps(v, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(rl + j, lanes, r);
            if (!inlineGate) continue;
            __m512 acc = _mm512_setzero_ps();
            for (long c = 0; c < g; ++c) {
                acc = _mm512_fmadd_ps(_mm512_set1_ps(da[c]), _mm512_maskz_loadu_ps(lanes, w2 + c * h + j), acc);
                float *wc = dW2 + c * h + j;
                _mm512_mask_storeu_ps(wc, lanes, _mm512_fmadd_ps(_mm512_set1_ps(da[c]), r, _mm512_maskz_loadu_ps(lanes, wc)));
            }
            acc = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), acc);
            _mm512_mask_storeu_ps(ds + j, lanes, acc);
            _mm512_mask_storeu_ps(db1 + j, lanes, _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, db1 + j), acc));
        }
    }
}

void armmt_avx512_cafu_dx(long rows, long m, long d, long dg, const float *mask, const float *alpha,
                          const float *dr, const float *dz, float *dx) {
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
                const __mmask16 lanes = d - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d - j)) - 1);
                __m512 v = _mm512_setzero_ps();
                if (present) {
                    const __m512 a = dg == 1 ? _mm512_set1_ps(am[0]) : _mm512_maskz_loadu_ps(lanes, am + j);
                    const __m512 z = _mm512_mul_ps(share, _mm512_maskz_loadu_ps(lanes, dzi + j));
                    v = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(lanes, dri + j), z);
                }
                _mm512_mask_storeu_ps(dxm + j, lanes, v);
            }
        }
    }
}

#pragma clang attribute pop

#else

void armmt_avx512_cafu_hidden(long rows, long h, long gateRows, float *pre, const float *b1, const float *w2,
                              float *hp, float *logits) {
    for (long i = 0; i < rows; ++i) {
        for (long j = 0; j < h; ++j) {
            const float v = pre[i * h + j] + b1[j];
            hp[i * h + j] = v;
            pre[i * h + j] = v > 0 ? v : 0;
        }
        for (long c = 0; c < gateRows; ++c) {
            float s = 0;
            for (long j = 0; j < h; ++j) s = __builtin_fmaf(pre[i * h + j], w2[c * h + j], s);
            logits[i * gateRows + c] = s;
        }
    }
}

void armmt_avx512_cafu_mix(long rows, long m, long d, long dg, const float *mask, const float *alpha, const float *x,
                           float *r) {
    for (long i = 0; i < rows; ++i)
        for (long j = 0; j < d; ++j) {
            float s = 0;
            for (long mm = 0; mm < m; ++mm)
                if (mask[i * m + mm] != 0)
                    s = __builtin_fmaf(alpha[(i * m + mm) * dg + (dg == 1 ? 0 : j)], x[(i * m + mm) * d + j], s);
            r[i * d + j] = s;
        }
}

void armmt_avx512_cafu_gate_backward(long rows, long m, long d, long h, long dg, int inlineGate, const float *mask,
                                     const float *alpha, const float *dr, const float *dAlpha, const float *x,
                                     const float *hp, const float *w2, float *dA, float *relu, float *dS, float *db1,
                                     float *db2, float *dW2) {
    const long g = m * dg;
    for (long i = 0; i < rows; ++i) {
        for (long c = 0; c < dg; ++c) {
            float s = 0;
            for (long mm = 0; mm < m; ++mm) {
                float gm = dAlpha ? dAlpha[(i * m + mm) * dg + c] : 0;
                if (mask[i * m + mm] != 0)
                    for (long j = 0; j < d; ++j)
                        if (dg == 1 || j == c) gm += dr[i * d + j] * x[(i * m + mm) * d + j];
                s += alpha[(i * m + mm) * dg + c] * gm;
            }
            for (long mm = 0; mm < m; ++mm) {
                float gm = dAlpha ? dAlpha[(i * m + mm) * dg + c] : 0;
                if (mask[i * m + mm] != 0)
                    for (long j = 0; j < d; ++j)
                        if (dg == 1 || j == c) gm += dr[i * d + j] * x[(i * m + mm) * d + j];
                dA[i * g + mm * dg + c] = alpha[(i * m + mm) * dg + c] * (gm - s);
            }
        }
        for (long c = 0; c < g; ++c) db2[c] += dA[i * g + c];
        for (long j = 0; j < h; ++j) {
            const float v = hp[i * h + j], r = v > 0 ? v : 0;
            relu[i * h + j] = r;
            if (!inlineGate) continue;
            float s = 0;
            for (long c = 0; c < g; ++c) {
                s += dA[i * g + c] * w2[c * h + j];
                dW2[c * h + j] += dA[i * g + c] * r;
            }
            dS[i * h + j] = v > 0 ? s : 0;
            db1[j] += dS[i * h + j];
        }
    }
}

void armmt_avx512_cafu_dx(long rows, long m, long d, long dg, const float *mask, const float *alpha,
                          const float *dr, const float *dz, float *dx) {
    for (long i = 0; i < rows; ++i) {
        long count = 0;
        for (long mm = 0; mm < m; ++mm) count += mask[i * m + mm] != 0;
        const float share = count > 0 ? 1.0f / (float)count : 0.0f;
        for (long mm = 0; mm < m; ++mm)
            for (long j = 0; j < d; ++j) {
                const float a = alpha[(i * m + mm) * dg + (dg == 1 ? 0 : j)];
                dx[(i * m + mm) * d + j] =
                    mask[i * m + mm] != 0 ? __builtin_fmaf(a, dr[i * d + j], share * dz[i * d + j]) : 0;
            }
    }
}

#endif
