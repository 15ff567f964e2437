#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Bias + GELU in sixteen lanes: the operations of the Swift fast path (ElementwiseFastPath with
// VectorMath.normalCDF / .normalPDF) in the same order, so every lane gives the Swift code's
// bits and a result does not depend on which unit computed it. Both branches of Φ are computed
// for every lane and one is selected, as in Swift: a vector whose lanes all fall on one side of
// |u/√2| = 0.921875 is rare at the model's activations.
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#include "avx512_inline.h"
#include "avx512_math.h"

ALWAYS_INLINE __m512 selectWhereGreater(__m512 x, float bound, __m512 otherwise, __m512 then) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(bound), _CMP_GT_OQ), otherwise, then);
}

// VectorMath.normalCDF: Φ(u) = ½(1 + erf(u/√2)) from a minimax polynomial for |u/√2| ≤ 0.921875,
// else ½erfc(|u/√2|) = ½exp(−u²/2 + G(t)), G a degree-10 fit, reflected for u > 0.
ALWAYS_INLINE __m512 normalCDF16(__m512 u) {
    const __m512 z = _mm512_mul_ps(u, _mm512_set1_ps(0.70710678118654752f));
    const __m512 t = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32(0x7fffffff)));
    const __m512 s = _mm512_mul_ps(z, z);
    __m512 r = _mm512_set1_ps(-5.96761703e-4f);
    r = fmaS(r, s, 4.99119423e-3f);
    r = fmaS(r, s, -2.67681349e-2f);
    r = fmaS(r, s, 1.12819925e-1f);
    r = fmaS(r, s, -3.76125336e-1f);
    r = fmaS(r, s, 1.28379166e-1f);
    const __m512 small = fmaS(_mm512_set1_ps(0.5f), _mm512_fmadd_ps(r, z, z), 0.5f);

    const __m512 tc = selectWhereGreater(t, 6.0f, t, _mm512_set1_ps(6.0f));
    __m512 g = _mm512_set1_ps(5.754766885246454e-09f);
    g = fmaS(g, tc, -2.84935879335535e-07f);
    g = fmaS(g, tc, 6.425418177968822e-06f);
    g = fmaS(g, tc, -8.776248432695866e-05f);
    g = fmaS(g, tc, 8.153566159307957e-04f);
    g = fmaS(g, tc, -5.494389217346907e-03f);
    g = fmaS(g, tc, 2.804233506321907e-02f);
    g = fmaS(g, tc, -1.1240997165441513e-01f);
    g = fmaS(g, tc, 3.7026718258857727e-01f);
    g = fmaS(g, tc, -1.1312968730926514f);
    g = fmaS(g, tc, 5.524258594959974e-04f);
    const __m512 halfU = _mm512_mul_ps(_mm512_set1_ps(-0.5f), u);
    __m512 halfErfc = _mm512_mul_ps(_mm512_set1_ps(0.5f), exp16(_mm512_fmadd_ps(halfU, u, g)));
    halfErfc = selectWhereGreater(t, 6.0f, halfErfc, _mm512_setzero_ps());
    const __m512 tail = selectWhereGreater(z, 0.0f, halfErfc, _mm512_sub_ps(_mm512_set1_ps(1.0f), halfErfc));
    return selectWhereGreater(t, 0.921875f, small, tail);
}

// VectorMath.normalPDF: e^(−u²/2)/√(2π).
ALWAYS_INLINE __m512 normalPDF16(__m512 u) {
    const __m512 e = exp16(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(-0.5f), u), u));
    return _mm512_mul_ps(_mm512_set1_ps(0.39894228040143267794f), e);
}

ALWAYS_INLINE __m512 biased(const float *x, const float *bias, long j, __mmask16 lanes) {
    const __m512 u = _mm512_maskz_loadu_ps(lanes, x + j);
    return bias ? _mm512_add_ps(u, _mm512_maskz_loadu_ps(lanes, bias + j)) : u;
}

void armmt_avx512_bias_gelu_forward(long rows, long cols, const float *x, const float *bias, float *y) {
    for (long i = 0; i < rows; ++i) {
        const float *xr = x + i * cols;
        float *yr = y + i * cols;
        for (long j = 0; j < cols; j += 16) {
            const __mmask16 lanes = lanesBelow(cols - j);
            const __m512 u = biased(xr, bias, j, lanes);
            _mm512_mask_storeu_ps(yr + j, lanes, _mm512_mul_ps(u, normalCDF16(u)));
        }
    }
}

void armmt_avx512_bias_gelu_backward(long rows, long cols, const float *dy, const float *x, const float *bias,
                                     float *dx, float *partial) {
    for (long i = 0; i < rows; ++i) {
        const float *xr = x + i * cols, *gr = dy + i * cols;
        float *dxr = dx + i * cols;
        for (long j = 0; j < cols; j += 16) {
            const __mmask16 lanes = lanesBelow(cols - j);
            const __m512 u = biased(xr, bias, j, lanes);
            const __m512 derivative = _mm512_fmadd_ps(u, normalPDF16(u), normalCDF16(u));
            const __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, gr + j), derivative);
            _mm512_mask_storeu_ps(dxr + j, lanes, g);
            if (partial)
                _mm512_mask_storeu_ps(partial + j, lanes, _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, partial + j), g));
        }
    }
}

#pragma clang attribute pop

#else

void armmt_avx512_bias_gelu_forward(long rows, long cols, const float *x, const float *bias, float *y) {
    __builtin_trap();
}

void armmt_avx512_bias_gelu_backward(long rows, long cols, const float *dy, const float *x, const float *bias,
                                     float *dx, float *partial) {
    __builtin_trap();
}

#endif
