// Losses: masked BCE-with-logits per target, and list-wise softmax cross-entropy per target.
//
// One work-group per target does the whole loss: work-items stride over rows (or lists) in a
// fixed pattern, partial sums meet in a fixed-shape tree in local memory, and the same group
// then writes the gradients, which need the group's count as divisor. The loss tensors are
// small (rows * targets is about 1e5 for a batch of 1000 lists of 100), so a single launch
// with no scratch buffer and no atomics costs microseconds on a GPU and keeps the reduction
// order, hence the bits, fixed.

#ifndef LOSS_WG
#define LOSS_WG 256
#endif

DEFINE_GROUP_SUM(loss_sum, REAL, LOSS_WG)
DEFINE_GROUP_SUM(loss_count, int, LOSS_WG)

inline REAL loss_sigmoid(const REAL x)
{
    if (x >= 0) return 1 / (1 + exp(-x));
    const REAL e = exp(x);
    return e / (1 + e);
}

inline REAL loss_gain(const REAL rel) { return rel > 0 ? exp2(rel) - 1 : (REAL)0; }

// Group t: losses[t] = mean over rows with mask > 0 of max(x,0) - x*y + log1p(exp(-|x|)),
// dLogits[r*T+t] = weights[t] * (sigmoid(x) - y) / valid (0 on masked rows).
__kernel __attribute__((reqd_work_group_size(LOSS_WG, 1, 1)))
void loss_bce(const int R, const int T,
              __global const REAL* restrict logits,
              __global const REAL* restrict labels, const int L, const int labelColumn,
              __global const REAL* restrict mask,
              __global const REAL* restrict weights,
              __global REAL* restrict losses,
              __global REAL* restrict dLogits)
{
    __local REAL sums[LOSS_WG];
    __local int counts[LOSS_WG];
    const int t = get_group_id(0);
    const int lid = get_local_id(0);
    REAL acc = 0;
    int cnt = 0;
    for (int r = lid; r < R; r += LOSS_WG) {
        if (mask[r] > 0) {
            const REAL x = logits[r * T + t];
            const REAL y = labels[r * L + labelColumn + t] > 0 ? (REAL)1 : (REAL)0;
            acc += fmax(x, (REAL)0) - x * y + log1p(exp(-fabs(x)));
            cnt += 1;
        }
    }
    const REAL total = loss_sum(sums, acc);
    const int valid = loss_count(counts, cnt);
    if (lid == 0) losses[t] = valid > 0 ? total / (REAL)valid : (REAL)0;
    const REAL scale = valid > 0 ? weights[t] / (REAL)valid : (REAL)0;
    for (int r = lid; r < R; r += LOSS_WG) {
        REAL d = 0;
        if (mask[r] > 0) {
            const REAL x = logits[r * T + t];
            const REAL y = labels[r * L + labelColumn + t] > 0 ? (REAL)1 : (REAL)0;
            d = scale * (loss_sigmoid(x) - y);
        }
        dLogits[r * T + t] = d;
    }
}

// Max logit and total gain over the valid slots of one list.
inline void loss_list_stats(__global const REAL* restrict logits, __global const REAL* restrict labels,
                            __global const REAL* restrict mask, const int base, const int K, const int T,
                            const int t, const int L, const int labelColumn, REAL* mx, REAL* gains)
{
    REAL m = -INFINITY, g = 0;
    for (int k = 0; k < K; ++k) {
        const int i = base + k;
        if (mask[i] > 0) {
            m = fmax(m, logits[i * T + t]);
            g += loss_gain(labels[i * L + labelColumn + t]);
        }
    }
    *mx = m;
    *gains = g;
}

// Group t; work-item lid owns lists lid, lid + LOSS_WG, ... For a kept list (total gain > 0)
// with p_k = gain_k / total and softmax s over its valid slots: loss = sum_k p_k (lse - x_k).
// losses[t] = mean over kept lists; skipped[t] = B - kept;
// dLogits = weights[t] * (s_k - p_k) / kept on valid slots of kept lists, 0 elsewhere.
__kernel __attribute__((reqd_work_group_size(LOSS_WG, 1, 1)))
void loss_listwise(const int B, const int K, const int T,
                   __global const REAL* restrict logits,
                   __global const REAL* restrict labels, const int L, const int labelColumn,
                   __global const REAL* restrict mask,
                   __global const REAL* restrict weights,
                   __global REAL* restrict losses,
                   __global int* restrict skipped,
                   __global REAL* restrict dLogits)
{
    __local REAL sums[LOSS_WG];
    __local int counts[LOSS_WG];
    const int t = get_group_id(0);
    const int lid = get_local_id(0);
    REAL acc = 0;
    int cnt = 0;
    for (int b = lid; b < B; b += LOSS_WG) {
        const int base = b * K;
        REAL mx, total;
        loss_list_stats(logits, labels, mask, base, K, T, t, L, labelColumn, &mx, &total);
        if (!(total > 0)) continue;
        REAL s = 0;
        for (int k = 0; k < K; ++k)
            if (mask[base + k] > 0) s += exp(logits[(base + k) * T + t] - mx);
        const REAL lse = mx + log(s);
        REAL loss = 0;
        for (int k = 0; k < K; ++k) {
            const int i = base + k;
            if (mask[i] > 0) loss += loss_gain(labels[i * L + labelColumn + t]) / total * (lse - logits[i * T + t]);
        }
        acc += loss;
        cnt += 1;
    }
    const REAL sum = loss_sum(sums, acc);
    const int kept = loss_count(counts, cnt);
    if (lid == 0) {
        losses[t] = kept > 0 ? sum / (REAL)kept : (REAL)0;
        skipped[t] = B - kept;
    }
    const REAL scale = kept > 0 ? weights[t] / (REAL)kept : (REAL)0;
    for (int b = lid; b < B; b += LOSS_WG) {
        const int base = b * K;
        REAL mx, total;
        loss_list_stats(logits, labels, mask, base, K, T, t, L, labelColumn, &mx, &total);
        const int keep = total > 0;
        REAL s = 0;
        if (keep)
            for (int k = 0; k < K; ++k)
                if (mask[base + k] > 0) s += exp(logits[(base + k) * T + t] - mx);
        for (int k = 0; k < K; ++k) {
            const int i = base + k;
            REAL d = 0;
            if (keep && mask[i] > 0)
                d = scale * (exp(logits[i * T + t] - mx) / s - loss_gain(labels[i * L + labelColumn + t]) / total);
            dLogits[i * T + t] = d;
        }
    }
}
