// Shared by every kernel family. The host prepends a preamble of #defines
// (REAL, device flags, per-device tunables) before this file.

#ifndef REAL
#define REAL float
#endif

// Offsets and sizes arrive as int: OpenCL 1.2 kernels take 32-bit scalars from the host,
// and every tensor the engine allocates is below 2^31 elements (checked on the host).

// Column reductions (LayerNorm's dγ/dβ, the bias gradient of bias+activation): a
// [COLRED_COLS x COLRED_ROWS] work-group owns COLRED_COLS columns; the COLRED_ROWS work-items of a
// column sum their values in a fixed tree, so every run adds in the same order.
#ifndef COLRED_COLS
#define COLRED_COLS 32
#endif
#ifndef COLRED_ROWS
#define COLRED_ROWS 8
#endif

// Tree sum over the COLRED_ROWS work-items sharing a column; result valid at ty == 0.
inline REAL colred_sum(__local REAL* s, const int tx, const int ty, const REAL v)
{
    s[ty * COLRED_COLS + tx] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = COLRED_ROWS >> 1; off > 0; off >>= 1) {
        if (ty < off) s[ty * COLRED_COLS + tx] += s[(ty + off) * COLRED_COLS + tx];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const REAL r = s[tx];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

// Sum of v over a 1-D work-group of WG work-items (a power of two) in a fixed tree, so every run
// adds in the same order; every work-item gets the total. Call from all work-items (barriers).
#define DEFINE_GROUP_SUM(NAME, T, WG)                                       \
inline T NAME(__local T* s, const T v)                                      \
{                                                                           \
    const int lid = get_local_id(0);                                        \
    s[lid] = v;                                                             \
    barrier(CLK_LOCAL_MEM_FENCE);                                           \
    for (int h = (WG) / 2; h > 0; h >>= 1) {                                \
        if (lid < h) s[lid] += s[lid + h];                                  \
        barrier(CLK_LOCAL_MEM_FENCE);                                       \
    }                                                                       \
    const T total = s[0];                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                           \
    return total;                                                           \
}
