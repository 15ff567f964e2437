#include "CAVX512.h"

#if defined(__x86_64__)
#include <immintrin.h>

// OptimizerFastPath.adamW's operations in its order, sixteen lanes at a time. Each is one IEEE
// operation (the build uses -ffp-contract=off, so no product and sum fuse), so every lane gives
// the bits of the scalar OptimizerReference.adamW. Sixteen lanes halve the divisions and square
// roots per element against the eight-lane Swift loop, whose divides bounded it.
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#include "avx512_inline.h"

void armmt_avx512_adamw(long count, float *parameter, const float *gradient, float *m, float *v, float gradientScale,
                        float decay, float stepSize, float biasCorrection2Sqrt, float beta1, float beta2,
                        float epsilon) {
    const __m512 scale = _mm512_set1_ps(gradientScale), dec = _mm512_set1_ps(decay), step = _mm512_set1_ps(stepSize);
    const __m512 bc2 = _mm512_set1_ps(biasCorrection2Sqrt), b2 = _mm512_set1_ps(beta2), eps = _mm512_set1_ps(epsilon);
    const __m512 oneMinusB1 = _mm512_set1_ps(1 - beta1), oneMinusB2 = _mm512_set1_ps(1 - beta2);
    for (long i = 0; i < count; i += 16) {
        const __mmask16 lanes = lanesBelow(count - i);
        const __m512 mOld = _mm512_maskz_loadu_ps(lanes, m + i);
        const __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, gradient + i), scale);
        const __m512 w = _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, parameter + i), dec);
        const __m512 mi = _mm512_add_ps(mOld, _mm512_mul_ps(oneMinusB1, _mm512_sub_ps(g, mOld)));
        const __m512 vi = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, v + i), b2),
                                        _mm512_mul_ps(_mm512_mul_ps(oneMinusB2, g), g));
        const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), bc2), eps);
        _mm512_mask_storeu_ps(parameter + i, lanes, _mm512_sub_ps(w, _mm512_div_ps(_mm512_mul_ps(step, mi), denom)));
        _mm512_mask_storeu_ps(m + i, lanes, mi);
        _mm512_mask_storeu_ps(v + i, lanes, vi);
    }
}

#pragma clang attribute pop

#else

// Never called off x86-64 (armmt_cpu_has_avx512_skx() is 0 there); defined so the module links.
void armmt_avx512_adamw(long count, float *parameter, const float *gradient, float *m, float *v, float gradientScale,
                        float decay, float stepSize, float biasCorrection2Sqrt, float beta1, float beta2,
                        float epsilon) {
    __builtin_trap();
}

#endif
