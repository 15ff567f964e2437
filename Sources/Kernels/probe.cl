// Device probes for `armmt-gpu bench`: the measured peaks that kernel timings are compared to.

#ifndef PROBE_FMA_ITERS
#define PROBE_FMA_ITERS 1024
#endif

// Streams src into dst with float4 loads/stores: the copy bandwidth a memory-bound kernel can
// hope for (read + write bytes both count).
__kernel void probe_copy(__global const float4* restrict src, __global float4* restrict dst, const int n4)
{
    for (int i = get_global_id(0); i < n4; i += get_global_size(0)) dst[i] = src[i];
}

// Eight independent FMA chains per work-item hide FMA latency; the result is written so the
// compiler cannot drop the work. 2 flops per FMA.
__kernel void probe_fma(__global float* out, const float seed)
{
    float a0 = seed + get_global_id(0), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3;
    float a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7;
    const float m = 0.999999f, c = 1e-7f;
    for (int i = 0; i < PROBE_FMA_ITERS; ++i) {
        a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
        a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
    }
    out[get_global_id(0)] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}
