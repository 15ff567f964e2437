// VectorMath's exp and log, sixteen lanes at a time: the same operations in the same order as
// the Swift (eight-lane) code, so every lane gives its bits. Include after the file's
// `#pragma clang attribute push` of the AVX-512 target and after avx512_inline.h; the build uses
// -ffp-contract=off so no product and sum are fused behind the code's back.
#ifndef ARMMT_AVX512_MATH_H
#define ARMMT_AVX512_MATH_H

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

#endif
