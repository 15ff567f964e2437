// LayerNorm over the last dimension, forward and backward (semantics: LayerNormOps.swift).
//
// Row kernels: a work-group of LN_WG work-items handles LN_WG / tpr rows, tpr consecutive
// work-items per row (tpr a power of two chosen by the host from d, so short rows do not leave
// most of a group idle and long rows get a whole group). Work-item `lane` of a row touches
// features lane, lane + tpr, ... so a row segment's loads are coalesced. Row sums are tree
// reductions in local memory over each tpr-wide segment.
//
// Parameter gradients (sums over rows): a [COLRED_COLS x COLRED_ROWS] work-group owns
// COLRED_COLS features and one block of rows, reduces it to one partial per feature, and a
// second kernel adds the partials in block order. Fixed partition and order: deterministic.

#ifndef LN_WG
#define LN_WG 128
#endif

// Sum of v over the tpr-wide segment holding work-item lid; every work-item of the group
// must call it (it has barriers) and gets its segment's sum.
inline REAL ln_segment_sum(__local REAL* s, const int lid, const int tpr, const REAL v)
{
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = tpr >> 1; off > 0; off >>= 1) {
        if ((lid & (tpr - 1)) < off) s[lid] += s[lid + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const REAL r = s[lid & ~(tpr - 1)];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

__kernel __attribute__((reqd_work_group_size(LN_WG, 1, 1)))
void layernorm_forward(const int rows, const int d, const int tpr, const REAL eps,
                       __global const REAL* x, __global const REAL* restrict gamma,
                       __global const REAL* restrict beta, __global REAL* y,
                       __global REAL* restrict mean, __global REAL* restrict rstd)
{
    __local REAL s[LN_WG];
    const int lid = get_local_id(0);
    const int lane = lid & (tpr - 1);
    const int row = get_group_id(0) * (LN_WG / tpr) + lid / tpr;
    const int valid = row < rows;
    const int base = valid ? row * d : 0;

    REAL acc = 0;
    if (valid) for (int j = lane; j < d; j += tpr) acc += x[base + j];
    const REAL mu = ln_segment_sum(s, lid, tpr, acc) / (REAL)d;
    acc = 0;
    if (valid) for (int j = lane; j < d; j += tpr) { const REAL t = x[base + j] - mu; acc += t * t; }
    const REAL var = ln_segment_sum(s, lid, tpr, acc) / (REAL)d;
    const REAL rs = (REAL)1 / sqrt(var + eps);
    if (!valid) return;
    // y may be x: each element is read and then written by the same work-item.
    for (int j = lane; j < d; j += tpr) y[base + j] = gamma[j] * ((x[base + j] - mu) * rs) + beta[j];
    if (lane == 0) { mean[row] = mu; rstd[row] = rs; }
}

__kernel __attribute__((reqd_work_group_size(LN_WG, 1, 1)))
void layernorm_backward_dx(const int rows, const int d, const int tpr,
                           __global const REAL* dy, __global const REAL* restrict x,
                           __global const REAL* restrict gamma, __global const REAL* restrict mean,
                           __global const REAL* restrict rstd, __global REAL* dx)
{
    __local REAL s[LN_WG];
    const int lid = get_local_id(0);
    const int lane = lid & (tpr - 1);
    const int row = get_group_id(0) * (LN_WG / tpr) + lid / tpr;
    const int valid = row < rows;
    const int base = valid ? row * d : 0;
    const REAL mu = valid ? mean[row] : 0;
    const REAL rs = valid ? rstd[row] : 0;

    REAL sg = 0, sgx = 0;
    if (valid) {
        for (int j = lane; j < d; j += tpr) {
            const REAL g = dy[base + j] * gamma[j];
            sg += g;
            sgx += g * ((x[base + j] - mu) * rs);
        }
    }
    const REAL mg = ln_segment_sum(s, lid, tpr, sg) / (REAL)d;
    const REAL mgx = ln_segment_sum(s, lid, tpr, sgx) / (REAL)d;
    if (!valid) return;
    // dx may be dy: each element is read and then written by the same work-item.
    for (int j = lane; j < d; j += tpr) {
        const REAL xh = (x[base + j] - mu) * rs;
        dx[base + j] = rs * (dy[base + j] * gamma[j] - mg - xh * mgx);
    }
}

// partialGamma[b, j] = Σ_{i in block b} dy[i, j]·x̂[i, j];  partialBeta[b, j] = Σ dy[i, j].
// Block b covers rows [b·rowsPerBlock, min(rows, (b+1)·rowsPerBlock)).
__kernel __attribute__((reqd_work_group_size(COLRED_COLS, COLRED_ROWS, 1)))
void layernorm_backward_params_partial(const int rows, const int d, const int rowsPerBlock,
                                       __global const REAL* restrict dy, __global const REAL* restrict x,
                                       __global const REAL* restrict mean, __global const REAL* restrict rstd,
                                       __global REAL* restrict partialGamma, __global REAL* restrict partialBeta)
{
    __local REAL s[COLRED_ROWS * COLRED_COLS];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int j = get_group_id(0) * COLRED_COLS + tx;
    const int b = get_group_id(1);
    const int r0 = b * rowsPerBlock;
    const int r1 = min(rows, r0 + rowsPerBlock);
    REAL ag = 0, ab = 0;
    if (j < d) {
        for (int i = r0 + ty; i < r1; i += COLRED_ROWS) {
            const REAL g = dy[i * d + j];
            ag += g * ((x[i * d + j] - mean[i]) * rstd[i]);
            ab += g;
        }
    }
    const REAL sg = colred_sum(s, tx, ty, ag);
    const REAL sb = colred_sum(s, tx, ty, ab);
    if (ty == 0 && j < d) {
        partialGamma[b * d + j] = sg;
        partialBeta[b * d + j] = sb;
    }
}

