// Optimizer: global gradient norm (deterministic two-stage sum of squares, clip scale kept on
// the device) and fused AdamW.

#ifndef OPT_WG
#define OPT_WG 256
#endif

DEFINE_GROUP_SUM(opt_sum, REAL, OPT_WG)

// Up to 8 tensors per launch: with one launch per parameter tensor in each of the two kernels, a
// default training step made 437 launches; batched, 305. Tensor k owns the work-groups
// first_k ..< first_k + groups (first_k ascending; a tensor with no groups owns none), and each
// of its groups does exactly what that group did in a launch of its own, so the bits do not
// depend on how tensors are batched. Slots k >= tensors are never read; the host passes tensor
// 0's buffers there. The count 8 is fixed by the argument lists (OpenCL 1.2 has no arrays of
// buffers); the host batches by it.
#define OPT_TENSOR_ARGS(k) __global const REAL* x##k, const int n##k, const int first##k, \
                           const int groups##k
#define OPT_PICK_X(k) if (k < tensors && group >= first##k) { \
        x = x##k; n = n##k; first = first##k; groups = groups##k; }

// Stage 1: group g of tensor k's G_k (groups_k) writes partials[slot + first_k + g] = the sum of
// x[i]^2 over i = g*OPT_WG + lid + j*G_k*OPT_WG. G_k depends only on the tensor's size, so the
// order is fixed.
__kernel __attribute__((reqd_work_group_size(OPT_WG, 1, 1)))
void optim_sumsq_partial(const int tensors, const int slot,
                         OPT_TENSOR_ARGS(0), OPT_TENSOR_ARGS(1), OPT_TENSOR_ARGS(2), OPT_TENSOR_ARGS(3),
                         OPT_TENSOR_ARGS(4), OPT_TENSOR_ARGS(5), OPT_TENSOR_ARGS(6), OPT_TENSOR_ARGS(7),
                         __global REAL* restrict partials)
{
    __local REAL s[OPT_WG];
    const int group = get_group_id(0);
    __global const REAL* x = x0;
    int n = n0, first = first0, groups = groups0;
    OPT_PICK_X(1) OPT_PICK_X(2) OPT_PICK_X(3) OPT_PICK_X(4) OPT_PICK_X(5) OPT_PICK_X(6) OPT_PICK_X(7)
    const uint stride = (uint)groups * OPT_WG;
    REAL acc = 0;
    // uint: i + stride may pass 2^31 on the last step of a tensor near that size.
    for (uint i = (uint)(group - first) * OPT_WG + get_local_id(0); i < (uint)n; i += stride) {
        const REAL v = x[i];
        acc = fma(v, v, acc);
    }
    const REAL total = opt_sum(s, acc);
    if (get_local_id(0) == 0) partials[slot + group] = total;
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
// Up to 8 tensors per launch, as above: element i of tensor k is (group - first_k)*OPT_WG + lid.
#define OPT_ADAM_ARGS(k) __global REAL* p##k, __global const REAL* g##k, __global REAL* m##k, \
                         __global REAL* v##k, const int n##k, const int first##k
#define OPT_PICK_ADAM(k) if (k < tensors && group >= first##k) { \
        p = p##k; gr = g##k; m = m##k; v = v##k; n = n##k; first = first##k; }

__kernel __attribute__((reqd_work_group_size(OPT_WG, 1, 1)))
void optim_adamw(const int tensors,
                 OPT_ADAM_ARGS(0), OPT_ADAM_ARGS(1), OPT_ADAM_ARGS(2), OPT_ADAM_ARGS(3),
                 OPT_ADAM_ARGS(4), OPT_ADAM_ARGS(5), OPT_ADAM_ARGS(6), OPT_ADAM_ARGS(7),
                 __global const REAL* restrict gradScale, const int hasScale,
                 const REAL decay, const REAL stepSize, const REAL bc2, const REAL beta2,
                 const REAL oneMinusBeta1, const REAL oneMinusBeta2, const REAL eps)
{
    const int group = get_group_id(0);
    __global REAL* p = p0;
    __global const REAL* gr = g0;
    __global REAL* m = m0;
    __global REAL* v = v0;
    int n = n0, first = first0;
    OPT_PICK_ADAM(1) OPT_PICK_ADAM(2) OPT_PICK_ADAM(3) OPT_PICK_ADAM(4) OPT_PICK_ADAM(5) OPT_PICK_ADAM(6)
    OPT_PICK_ADAM(7)
    const int i = (group - first) * OPT_WG + get_local_id(0);
    if (i >= n) return;
    const REAL g = hasScale ? gr[i] * gradScale[0] : gr[i];
    const REAL w = p[i] * decay;
    const REAL mi = m[i] + oneMinusBeta1 * (g - m[i]);
    const REAL vi = v[i] * beta2 + oneMinusBeta2 * g * g;
    const REAL denom = sqrt(vi) / bc2 + eps;
    p[i] = w - stepSize * mi / denom;
    m[i] = mi;
    v[i] = vi;
}
