// Optimizer: global gradient norm (deterministic two-stage sum of squares, clip scale kept on
// the device) and fused AdamW.

#ifndef OPT_WG
#define OPT_WG 256
#endif

DEFINE_GROUP_SUM(opt_sum, REAL, OPT_WG)

// Stage 1, once per tensor: group g of G writes partials[slot + g] = the sum of x[i]^2 over
// i = g*OPT_WG + lid + k*G*OPT_WG. The grid depends only on n, so the order is fixed.
__kernel __attribute__((reqd_work_group_size(OPT_WG, 1, 1)))
void optim_sumsq_partial(const int n, __global const REAL* restrict x,
                         __global REAL* restrict partials, const int slot)
{
    __local REAL s[OPT_WG];
    const uint stride = get_num_groups(0) * OPT_WG;
    REAL acc = 0;
    // uint: i + stride may pass 2^31 on the last step of a tensor near that size.
    for (uint i = get_group_id(0) * OPT_WG + get_local_id(0); i < (uint)n; i += stride) {
        const REAL v = x[i];
        acc = fma(v, v, acc);
    }
    const REAL total = opt_sum(s, acc);
    if (get_local_id(0) == 0) partials[slot + get_group_id(0)] = total;
}

// Stage 2, one group: norm = sqrt(sum of the P partials), scale = min(1, maxNorm / (norm + 1e-6)),
// NaN when the norm is NaN (fmin alone would drop the NaN and hide a broken step).
__kernel __attribute__((reqd_work_group_size(OPT_WG, 1, 1)))
void optim_norm_final(const int P, __global const REAL* restrict partials, const REAL maxNorm,
                      __global REAL* restrict norm, __global REAL* restrict scale)
{
    __local REAL s[OPT_WG];
    const int lid = get_local_id(0);
    REAL acc = 0;
    for (int i = lid; i < P; i += OPT_WG) acc += partials[i];
    const REAL total = opt_sum(s, acc);
    if (lid == 0) {
        const REAL nrm = sqrt(total);
        const REAL ratio = maxNorm / (nrm + (REAL)1e-6f);
        norm[0] = nrm;
        scale[0] = isnan(ratio) ? ratio : fmin((REAL)1, ratio);
    }
}

// One AdamW step, torch.optim.AdamW's order: p *= decay; m = lerp(m, g, 1 - beta1);
// v = beta2 v + (1 - beta2) g^2; p -= stepSize * m / (sqrt(v) / bc2 + eps).
// decay = 1 - lr*wd, stepSize = lr / (1 - beta1^t), bc2 = sqrt(1 - beta2^t) come from the host.
__kernel __attribute__((reqd_work_group_size(OPT_WG, 1, 1)))
void optim_adamw(const int n, __global REAL* restrict p, __global const REAL* restrict grad,
                 __global REAL* restrict m, __global REAL* restrict v,
                 __global const REAL* restrict gradScale, const int hasScale,
                 const REAL decay, const REAL stepSize, const REAL bc2, const REAL beta2,
                 const REAL oneMinusBeta1, const REAL oneMinusBeta2, const REAL eps)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    const REAL g = hasScale ? grad[i] * gradScale[0] : grad[i];
    const REAL w = p[i] * decay;
    const REAL mi = m[i] + oneMinusBeta1 * (g - m[i]);
    const REAL vi = v[i] * beta2 + oneMinusBeta2 * g * g;
    const REAL denom = sqrt(vi) / bc2 + eps;
    p[i] = w - stepSize * mi / denom;
    m[i] = mi;
    v[i] = vi;
}
