#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>

// The same operations in the same order as the Swift fast path's VectorMath.exp / .log and
// the attention softmax loops, sixteen lanes at a time: every lane gives the bits of the
// Swift (eight-lane) code. The build uses -ffp-contract=off so no product and sum are fused
// behind the code's back.
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#include "avx512_inline.h"

// fma(a, b, c) = a·b + c in one rounding, as VectorMath.fma.
ALWAYS_INLINE __m512 fmaS(__m512 a, __m512 b, float c) { return _mm512_fmadd_ps(a, b, _mm512_set1_ps(c)); }

// e^x = y·2^n, the body of VectorMath.exp for x in [-87.33654, 88.37626]: Cody–Waite reduction
// to r = x − n·ln 2, Cephes' expf polynomial y = e^r.
typedef struct {
    __m512 y, n;
} expParts;

ALWAYS_INLINE expParts expSplit(__m512 x) {
    const float magic = 12582912.0f;
    const __m512 n = _mm512_sub_ps(fmaS(x, _mm512_set1_ps(1.44269504f), magic), _mm512_set1_ps(magic));
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = fmaS(p, r, 1.3981999507e-3f);
    p = fmaS(p, r, 8.3334519073e-3f);
    p = fmaS(p, r, 4.1665795894e-2f);
    p = fmaS(p, r, 1.6666665459e-1f);
    p = fmaS(p, r, 5.0000001201e-1f);
    const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return (expParts){y, n};
}

// VectorMath.exp for x ≤ 88.37626 (or NaN), as in the softmax, where x = s − max ≤ 0. The Swift
// code clamps x to [−87.33654, 88.37626], builds 2^n in the exponent bits, multiplies, and sets
// 0 below the range. Here the zero mask of one vscalefps does the last two steps: in the range
// n ∈ [−126, 127], so 2^n is normal and y·2^n (below 2^128) rounds as the Swift product does;
// below it the lanes are 0 whatever x gave. The clamps change no x that is kept.
ALWAYS_INLINE __m512 expNotAbove88(__m512 x) {
    const expParts e = expSplit(x);
    return _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_NLT_UQ), e.y, e.n);
}

// VectorMath.exp: expNotAbove88, and ∞ above 88.37626.
ALWAYS_INLINE __m512 exp16(__m512 x) {
    const __mmask16 over = _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.37626f), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(over, expNotAbove88(x), _mm512_set1_ps(__builtin_inff()));
}

// VectorMath.log for x ≥ 1 (positive normal x): Cephes' logf reduction and polynomial.
ALWAYS_INLINE __m512 log16(__m512 x) {
    const __m512i bits = _mm512_castps_si512(x);
    __m512 e = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srai_epi32(bits, 23), _mm512_set1_epi32(126)));
    __m512 m = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f000000)));
    const __mmask16 small = _mm512_cmp_ps_mask(m, _mm512_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
    e = _mm512_mask_blend_ps(small, e, _mm512_sub_ps(e, _mm512_set1_ps(1.0f)));
    m = _mm512_mask_blend_ps(small, m, _mm512_add_ps(m, m));
    const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f)), z = _mm512_mul_ps(f, f);
    __m512 y = _mm512_set1_ps(7.0376836292e-2f);
    y = fmaS(y, f, -1.1514610310e-1f);
    y = fmaS(y, f, 1.1676998740e-1f);
    y = fmaS(y, f, -1.2420140846e-1f);
    y = fmaS(y, f, 1.4249322787e-1f);
    y = fmaS(y, f, -1.6668057665e-1f);
    y = fmaS(y, f, 2.0000714765e-1f);
    y = fmaS(y, f, -2.4999993993e-1f);
    y = fmaS(y, f, 3.3333331174e-1f);
    y = _mm512_mul_ps(_mm512_mul_ps(y, f), z);
    y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
    y = _mm512_fmadd_ps(_mm512_set1_ps(-0.5f), z, y);
    const __m512 r = _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), _mm512_add_ps(f, y));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), r, x);
}

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
        const __mmask16 lanes = count - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (count - i)) - 1);
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
