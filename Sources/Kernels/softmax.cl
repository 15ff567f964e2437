// Masked row softmax (semantics: SoftmaxOps.swift), the middle step of unfused attention.
//
// A work-group of SMAX_WG work-items owns SMAX_WG / lanes consecutive rows; the `lanes`
// work-items of a row (a power of two chosen by the host from the row length, at most
// SMAX_WG) stride over its columns, so consecutive work-items read consecutive addresses
// (coalesced), and reduce max and sum in a fixed tree in local memory (deterministic, no
// atomics). Three passes over the row: max, sum of exp, write; the row is re-read from
// global memory (cached: rows are short), never staged, so any length fits.
//
// Masked entries are never used (selected out, not multiplied), so NaN scores there do not
// leak; a row with no valid key gets m = -inf, sum = 0 and writes zeros. y may be x: every
// read of a row's x happens before the barrier that precedes its writes, and pass 3 reads
// and writes the same element on the same work-item.

#ifndef SMAX_WG
#define SMAX_WG 128
#endif

// Tree reduction over the `lanes` work-items of one row segment [slot, slot + lanes) of s;
// every work-item of the group must call it (barriers). Returns the segment's result.
inline REAL smax_reduce_max(__local REAL* s, const int lid, const int lane, const int slot, const int lanes, const REAL v)
{
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = lanes >> 1; off > 0; off >>= 1) {
        if (lane < off) s[lid] = fmax(s[lid], s[lid + off]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const REAL r = s[slot];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

inline REAL smax_reduce_sum(__local REAL* s, const int lid, const int lane, const int slot, const int lanes, const REAL v)
{
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = lanes >> 1; off > 0; off >>= 1) {
        if (lane < off) s[lid] += s[lid + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const REAL r = s[slot];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

// x, y: [rows, cols]; mask: [rows / rowsPerBatch, cols] (read only when hasMask).
__kernel __attribute__((reqd_work_group_size(SMAX_WG, 1, 1)))
void softmax_masked_rows(const int rows, const int cols, const int rowsPerBatch, const int lanes,
                         const int hasMask, const REAL scale,
                         __global const REAL* x, __global const REAL* mask, __global REAL* y)
{
    __local REAL red[SMAX_WG];
    const int lid = get_local_id(0);
    const int lane = lid & (lanes - 1);
    const int slot = lid - lane;
    const int row = get_group_id(0) * (SMAX_WG / lanes) + lid / lanes;
    // Work-items past the last row still take part in every barrier; they only skip memory.
    const int live = row < rows;
    const int rowc = live ? row : 0;
    __global const REAL* xr = x + (size_t)rowc * cols;
    __global const REAL* mr = mask + (size_t)(hasMask ? rowc / rowsPerBatch : 0) * cols;
    __global REAL* yr = y + (size_t)rowc * cols;

    REAL m = -INFINITY;
    if (live) {
        for (int j = lane; j < cols; j += lanes)
            if (!hasMask || mr[j] != (REAL)0) m = fmax(m, scale * xr[j]);
    }
    m = smax_reduce_max(red, lid, lane, slot, lanes, m);

    REAL sum = 0;
    if (live) {
        for (int j = lane; j < cols; j += lanes)
            if (!hasMask || mr[j] != (REAL)0) sum += exp(scale * xr[j] - m);
    }
    sum = smax_reduce_sum(red, lid, lane, slot, lanes, sum);

    const REAL inv = sum > (REAL)0 ? (REAL)1 / sum : (REAL)0;
    if (live) {
        for (int j = lane; j < cols; j += lanes)
            yr[j] = (!hasMask || mr[j] != (REAL)0) ? exp(scale * xr[j] - m) * inv : (REAL)0;
    }
}
