#ifndef ARMMT_COPENBLAS_SHIM_H
#define ARMMT_COPENBLAS_SHIM_H
// OpenBLAS's cblas.h also declares its extensions (openblas_get_config, thread count).
#include <cblas.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

// Software prefetch for the CPU backend's Swift fast paths, which have no prefetch intrinsic.
// It lives in this module because it is the CPU backend's only C module.
static inline void armmt_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
// For lines about to be written: fetched for ownership, so the stores do not wait for it.
static inline void armmt_prefetch_write(void *p) { __builtin_prefetch(p, 1, 3); }

// Whether the CPU and the OS both support the AVX-512 subsets of Skylake-X and later
// (F, CD, BW, DQ, VL), which OpenBLAS's AVX-512 kernels use: CPUID leaf 7 for the CPU, XGETBV
// for the OS saving the opmask and ZMM state on context switches.
static inline int armmt_cpu_has_avx512_skx(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;  // OSXSAVE
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6) != 0xe6) return 0;  // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM enabled
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned need = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);  // F DQ CD BW VL
    return (b & need) == need;
#else
    return 0;
#endif
}

// Peak-FLOP probe: `iterations` rounds of 12 independent FMA chains in the widest vectors the
// CPU has (AVX-512 when armmt_cpu_has_avx512_skx(), else AVX2), on the calling thread. Twelve
// chains cover a 4-cycle FMA latency on two pipes with room to spare and fit in the registers.
// It is C because the Swift fast paths are compiled for AVX2 and could not issue AVX-512, and a
// device peak must be the device's, not the build's. Returns the sum of the lanes (a sink).
#if defined(__x86_64__)
#define ARMMT_FMA_CHAINS(VEC, SET1, FMA, ADD, STORE, LANES)                          \
    VEC m = SET1(0.999999f), c0 = SET1(1e-7f), acc[12];                               \
    for (int j = 0; j < 12; j++) acc[j] = SET1(seed + (float)j);                      \
    for (long i = 0; i < iterations; i++) {                                          \
        _Pragma("clang loop unroll(full)")                                            \
        for (int j = 0; j < 12; j++) acc[j] = FMA(acc[j], m, c0);                     \
    }                                                                                 \
    for (int j = 1; j < 12; j++) acc[0] = ADD(acc[0], acc[j]);                        \
    float lanes[LANES];                                                               \
    STORE(lanes, acc[0]);                                                             \
    float s = 0;                                                                      \
    for (int j = 0; j < LANES; j++) s += lanes[j];                                    \
    return s;

__attribute__((target("avx512f"))) static inline float armmt_fma_chains_avx512(long iterations, float seed) {
    ARMMT_FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16)
}
__attribute__((target("avx2,fma"))) static inline float armmt_fma_chains_avx2(long iterations, float seed) {
    ARMMT_FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8)
}
#undef ARMMT_FMA_CHAINS
#endif
#endif
