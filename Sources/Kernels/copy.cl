// Strided 2-D window copies (concat, split, broadcast) and their adjoint, group sums.
// Work-items run along columns (dimension 0) so global accesses are coalesced.

__kernel void copy_window(const int rows, const int cols,
                          __global const REAL* restrict src, const int srcOffset, const int srcStride,
                          __global REAL* restrict dst, const int dstOffset, const int dstStride,
                          const int repeatRows, const int accumulate, const REAL scale)
{
    const int c = get_global_id(0);
    const int r = get_global_id(1);
    if (c >= cols || r >= rows) return;
    const REAL v = scale * src[srcOffset + (r / repeatRows) * srcStride + c];
    __global REAL* d = dst + dstOffset + r * dstStride + c;
    *d = accumulate ? *d + v : v;
}

__kernel void sum_groups(const int groups, const int groupSize, const int cols,
                         __global const REAL* restrict src, const int srcOffset, const int srcStride,
                         __global REAL* restrict dst, const int dstOffset, const int dstStride,
                         const int accumulate)
{
    const int c = get_global_id(0);
    const int g = get_global_id(1);
    if (c >= cols || g >= groups) return;
    __global const REAL* s = src + srcOffset + g * groupSize * srcStride + c;
    REAL acc = 0;
    for (int j = 0; j < groupSize; ++j) acc += s[j * srcStride];   // fixed order: deterministic
    __global REAL* d = dst + dstOffset + g * dstStride + c;
    *d = accumulate ? *d + acc : acc;
}
