#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>

// The same operations in the same order as the Swift fast path's VectorMath.exp / .log and
// the attention softmax loops, sixteen lanes at a time: every lane gives the bits of the
// Swift (eight-lane) code. The build uses -ffp-contract=off so no product and sum are fused
// behind the code's back.
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#include "avx512_inline.h"

#include "avx512_math.h"

// Lanes g … g + 15 of a row lq8 wide (a multiple of 8): the last group may be 8 lanes.
ALWAYS_INLINE __mmask16 groupLanes(long lq8, long g) { return lq8 - g >= 16 ? (__mmask16)0xffff : (__mmask16)0x00ff; }

// Pᵀ = e^(Sᵀ − m) in place over rows j < n (row stride ld) of G 16-lane groups side by side
// (group g: columns 16g …, lanes[g] of them, max m[g]), the sums of each group in two chains
// (even and odd rows) added at the end, as the Swift loop does. G = 2 runs both groups of a
// 32-lane row in one loop: four independent exponentials per step keep the FMA pipes busy,
// where two left them waiting on the polynomial's chain.
ALWAYS_INLINE void expGroups(const int G, float *s, long n, long ld, const __mmask16 *lanes, const __m512 *m,
                             float *sum, float *inverseSum) {
    __m512 even[2], odd[2];
#pragma clang loop unroll(full)
    for (int g = 0; g < G; ++g) even[g] = odd[g] = _mm512_setzero_ps();
    long j = 0;
    for (; j + 1 < n; j += 2)
#pragma clang loop unroll(full)
        for (int g = 0; g < G; ++g) {
            float *r = s + j * ld + 16 * g;
            const __m512 e0 = expNotAbove88(_mm512_sub_ps(_mm512_maskz_loadu_ps(lanes[g], r), m[g]));
            const __m512 e1 = expNotAbove88(_mm512_sub_ps(_mm512_maskz_loadu_ps(lanes[g], r + ld), m[g]));
            _mm512_mask_storeu_ps(r, lanes[g], e0);
            _mm512_mask_storeu_ps(r + ld, lanes[g], e1);
            even[g] = _mm512_add_ps(even[g], e0);
            odd[g] = _mm512_add_ps(odd[g], e1);
        }
    if (j < n)
#pragma clang loop unroll(full)
        for (int g = 0; g < G; ++g) {
            float *r = s + j * ld + 16 * g;
            const __m512 e0 = expNotAbove88(_mm512_sub_ps(_mm512_maskz_loadu_ps(lanes[g], r), m[g]));
            _mm512_mask_storeu_ps(r, lanes[g], e0);
            even[g] = _mm512_add_ps(even[g], e0);
        }
#pragma clang loop unroll(full)
    for (int g = 0; g < G; ++g) {
        const __m512 total = _mm512_add_ps(even[g], odd[g]);
        _mm512_mask_storeu_ps(inverseSum + 16 * g, lanes[g], _mm512_div_ps(_mm512_set1_ps(1.0f), total));
        _mm512_mask_storeu_ps(sum + 16 * g, lanes[g], total);
    }
}

static const __mmask16 bothGroups[2] = {0xffff, 0xffff};

void armmt_avx512_softmax_columns(float *s, long n, long n4, long lq8, float *max, float *sum, float *inverseSum) {
    for (long g = 0; g < lq8; g += 16) {
        const __mmask16 lanes = groupLanes(lq8, g);
        float *col = s + g;
        // The max in two chains: odd rows, and even rows after the first.
        __m512 m0 = _mm512_maskz_loadu_ps(lanes, col), m1 = m0;
        long j = 1;
        for (; j + 1 < n; j += 2) {
            m0 = swiftMax(m0, _mm512_maskz_loadu_ps(lanes, col + j * lq8));
            m1 = swiftMax(m1, _mm512_maskz_loadu_ps(lanes, col + (j + 1) * lq8));
        }
        if (j < n) m0 = swiftMax(m0, _mm512_maskz_loadu_ps(lanes, col + j * lq8));
        const __m512 m = swiftMax(m0, m1);
        expGroups(1, col, n, lq8, &lanes, &m, sum + g, inverseSum + g);
        _mm512_mask_storeu_ps(max + g, lanes, m);
    }
    for (long j = n; j < n4; ++j)
        for (long c = 0; c < lq8; c += 16) _mm512_mask_storeu_ps(s + j * lq8 + c, groupLanes(lq8, c), _mm512_setzero_ps());
}

void armmt_avx512_exp_columns32(float *s, long n, const float *max, float *sum, float *inverseSum) {
    const __m512 m[2] = {_mm512_loadu_ps(max), _mm512_loadu_ps(max + 16)};
    expGroups(2, s, n, 32, bothGroups, m, sum, inverseSum);
}

void armmt_avx512_add_log(long count, float *x, const float *y) {
    for (long i = 0; i < count; i += 16) {
        const __mmask16 lanes = lanesBelow(count - i);
        const __m512 sum = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), lanes, y + i);
        _mm512_mask_storeu_ps(x + i, lanes, _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, x + i), log16(sum)));
    }
}

// The step below for G 16-lane groups side by side (as in expGroups). G = 2 runs both groups
// of a 32-lane row in one loop, two exponentials and two chains of D per row, where one group
// at a time left the core waiting on each exp and its FMA.
ALWAYS_INLINE void scoreGradientGroups(const int G, float *s, float *dP, long n, long ld, const __mmask16 *lanes,
                                       const float *lse) {
    __m512 l[2], d[2];
#pragma clang loop unroll(full)
    for (int g = 0; g < G; ++g) l[g] = _mm512_maskz_loadu_ps(lanes[g], lse + 16 * g), d[g] = _mm512_setzero_ps();
    for (long j = 0; j < n; ++j)
#pragma clang loop unroll(full)
        for (int g = 0; g < G; ++g) {
            float *r = s + j * ld + 16 * g;
            const __m512 p = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(lanes[g], r), l[g]));
            _mm512_mask_storeu_ps(r, lanes[g], p);
            d[g] = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(lanes[g], dP + j * ld + 16 * g), d[g]);
        }
    for (long j = 0; j < n; ++j)
#pragma clang loop unroll(full)
        for (int g = 0; g < G; ++g) {
            const float *r = s + j * ld + 16 * g;
            float *dr = dP + j * ld + 16 * g;
            const __m512 p = _mm512_maskz_loadu_ps(lanes[g], r), dp = _mm512_maskz_loadu_ps(lanes[g], dr);
            _mm512_mask_storeu_ps(dr, lanes[g], _mm512_mul_ps(p, _mm512_sub_ps(dp, d[g])));
        }
}

void armmt_avx512_probabilities_and_score_gradient(float *s, float *dP, long n, long n4, long lq8, const float *lse) {
    if (lq8 == 32)
        scoreGradientGroups(2, s, dP, n, lq8, bothGroups, lse);
    else
        for (long g = 0; g < lq8; g += 16) {
            const __mmask16 lanes = groupLanes(lq8, g);
            scoreGradientGroups(1, s + g, dP + g, n, lq8, &lanes, lse + g);
        }
    for (long j = n; j < n4; ++j)
        for (long c = 0; c < lq8; c += 16) {
            _mm512_mask_storeu_ps(s + j * lq8 + c, groupLanes(lq8, c), _mm512_setzero_ps());
            _mm512_mask_storeu_ps(dP + j * lq8 + c, groupLanes(lq8, c), _mm512_setzero_ps());
        }
}

#pragma clang attribute pop

#else

// Never called off x86-64 (armmt_cpu_has_avx512_skx() is 0 there); defined so the module links.
void armmt_avx512_softmax_columns(float *s, long n, long n4, long lq8, float *max, float *sum, float *inverseSum) {
    __builtin_trap();
}

void armmt_avx512_exp_columns32(float *s, long n, const float *max, float *sum, float *inverseSum) {
    __builtin_trap();
}

void armmt_avx512_probabilities_and_score_gradient(float *s, float *dP, long n, long n4, long lq8, const float *lse) {
    __builtin_trap();
}

#endif
