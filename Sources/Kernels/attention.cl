// Fused multi-head attention with a key-padding mask (math: Ops/AttentionOps.swift).
//
// Layout: operand X of sample b, token i, head h starts at X + offX + (b*L + i)*ldX + h*dh and
// holds dh contiguous floats. mask[b*Lk + j] != 0 marks a valid key (hasMask = 0: all valid).
// lse is [B, H, Lq].
//
// Work split (FlashAttention-2 style, nothing of size Lq x Lk ever reaches global memory):
// - forward and dQ: one work-group per (query block of ATTN_BQ rows, h, b); ATTN_TPR = ATTN_WG /
//   ATTN_BQ work-items share a query row. K/V are streamed through local memory in tiles of BK
//   keys; each work-item computes BK/TPR scores of its row and owns DH/TPR output columns
//   (c = tq + u*TPR) in registers. Online softmax across key tiles.
// - dK/dV: one work-group per (key block of ATTN_BQ keys, h, b), streaming query tiles of BK
//   rows; the same split with keys and queries swapped.
// Every sum runs in a fixed order inside one work-item, and every output element is written by
// one work-item: results are deterministic (no atomics).
//
// Head widths come in compile-time variants DH = 16, 32, 64, 128 (the host picks the smallest
// DH >= dh): local tiles are zero-padded to DH columns, so dot products run over DH with
// compile-time bounds, and padding columns contribute exact zeros. Local rows are DH+1 long so
// the TPR work-items reading different rows of one column hit different banks.
// Masked keys are zeroed when loaded (and their probabilities forced to 0), so padding rows of
// K and V may hold NaN without effect.

#ifndef ATTN_WG
#define ATTN_WG 64
#endif
#ifndef ATTN_BQ
#define ATTN_BQ 16
#endif
// Key (forward, dQ) or query (dK/dV) tile per head-width variant, chosen so that every
// kernel's local memory stays within 32 KiB (the OpenCL minimum): the largest, dK/dV at
// DH = 64, takes 29.4 KiB.
#ifndef ATTN_BK16
#define ATTN_BK16 64
#endif
#ifndef ATTN_BK32
#define ATTN_BK32 64
#endif
#ifndef ATTN_BK64
#define ATTN_BK64 32
#endif
#ifndef ATTN_BK128
#define ATTN_BK128 8
#endif

#define ATTN_TPR (ATTN_WG / ATTN_BQ)
// Register arrays are sized for the largest variant; inlining with constant DH/BK leaves
// only the used elements, in registers.
#define ATTN_MAX_DH 128
#define ATTN_MAX_BK 64
#define ATTN_OREG (ATTN_MAX_DH / ATTN_TPR)
#define ATTN_SREG (ATTN_MAX_BK / ATTN_TPR)

#if ATTN_WG % ATTN_BQ != 0 || 16 % ATTN_TPR != 0
#error "ATTN_WG must be ATTN_BQ times a divisor of 16"
#endif
#if ATTN_BK16 % ATTN_TPR != 0 || ATTN_BK32 % ATTN_TPR != 0 || ATTN_BK64 % ATTN_TPR != 0 || ATTN_BK128 % ATTN_TPR != 0
#error "key tiles must be multiples of ATTN_WG / ATTN_BQ"
#endif
#if ATTN_BK16 > ATTN_MAX_BK || ATTN_BK32 > ATTN_MAX_BK || ATTN_BK64 > ATTN_MAX_BK || ATTN_BK128 > ATTN_MAX_BK
#error "key tiles above ATTN_MAX_BK"
#endif

inline int attn_key_valid(const int j, const int Lk, __global const REAL* mask, const int hasMask)
{
    return j < Lk && (!hasMask || mask[j] != 0);
}

// rows x DH tile (row stride DH+1) from rows r0.. of an operand; rows >= L and columns >= dh
// become 0, rows of masked keys too (maskKeys), and values are multiplied by mul.
inline void attn_load_tile(const int DH, const int rows, __local REAL* dst,
                           __global const REAL* src, const int ld, const int r0, const int L, const int dh,
                           const REAL mul, const int maskKeys, __global const REAL* mask, const int hasMask)
{
    for (int l = get_local_id(0); l < rows * DH; l += ATTN_WG) {
        const int rr = l / DH, c = l % DH, r = r0 + rr;
        int ok = r < L && c < dh;
        if (ok && maskKeys) ok = attn_key_valid(r, L, mask, hasMask);
        dst[rr * (DH + 1) + c] = ok ? src[r * ld + c] * mul : 0;
    }
}

// D_i = sum_c dO[i,c] * O[i,c], in one fixed order (every work-item that needs it gets the same bits).
inline REAL attn_delta(__global const REAL* dO, __global const REAL* O, const int dh)
{
    REAL d = 0;
    for (int c = 0; c < dh; ++c) d = fma(dO[c], O[c], d);
    return d;
}

inline void attn_forward(const int DH, const int BK,
                         const int Lq, const int Lk, const int dh, const REAL scale,
                         __global const REAL* Q, const int ldq, __global const REAL* K, const int ldk,
                         __global const REAL* V, const int ldv, __global const REAL* mask, const int hasMask,
                         __global REAL* O, const int ldo, __global REAL* lse,
                         __local REAL* Qs, __local REAL* Ks, __local REAL* Vs, __local REAL* S, __local REAL* red)
{
    const int t = get_local_id(0);
    const int r = t / ATTN_TPR, tq = t % ATTN_TPR;
    const int q0 = get_group_id(0) * ATTN_BQ;
    const int DP = DH + 1, SP = BK + 1;

    // Q is pre-multiplied by the scale: s = (scale q) . k, as in the CPU reference.
    attn_load_tile(DH, ATTN_BQ, Qs, Q, ldq, q0, Lq, dh, scale, 0, mask, hasMask);

    REAL o[ATTN_OREG];
    for (int u = 0; u < DH / ATTN_TPR; ++u) o[u] = 0;
    REAL m = -INFINITY, lsum = 0;

    for (int k0 = 0; k0 < Lk; k0 += BK) {
        attn_load_tile(DH, BK, Ks, K, ldk, k0, Lk, dh, 1, 1, mask, hasMask);
        attn_load_tile(DH, BK, Vs, V, ldv, k0, Lk, dh, 1, 1, mask, hasMask);
        barrier(CLK_LOCAL_MEM_FENCE);

        REAL s[ATTN_SREG];
        REAL mt = -INFINITY;
        for (int w = 0; w < BK / ATTN_TPR; ++w) {
            const int jj = tq + w * ATTN_TPR;
            REAL acc = 0;
            for (int c = 0; c < DH; ++c) acc = fma(Qs[r * DP + c], Ks[jj * DP + c], acc);
            s[w] = attn_key_valid(k0 + jj, Lk, mask, hasMask) ? acc : -INFINITY;
            mt = fmax(mt, s[w]);
        }
        red[r * ATTN_TPR + tq] = mt;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int x = 0; x < ATTN_TPR; ++x) mt = fmax(mt, red[r * ATTN_TPR + x]);
        const REAL mnew = fmax(m, mt);
        // While a row has seen no valid key, mnew = -inf: its probabilities are 0, nothing rescales.
        const int none = mnew == -INFINITY;
        const REAL alpha = none ? 1 : exp(m - mnew);
        for (int w = 0; w < BK / ATTN_TPR; ++w) S[r * SP + tq + w * ATTN_TPR] = none ? 0 : exp(s[w] - mnew);
        barrier(CLK_LOCAL_MEM_FENCE);

        REAL rowsum = 0;
        for (int u = 0; u < DH / ATTN_TPR; ++u) o[u] *= alpha;
        for (int jj = 0; jj < BK; ++jj) {
            const REAL p = S[r * SP + jj];
            rowsum += p;
            for (int u = 0; u < DH / ATTN_TPR; ++u) o[u] = fma(p, Vs[jj * DP + tq + u * ATTN_TPR], o[u]);
        }
        lsum = lsum * alpha + rowsum;
        m = mnew;
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    const int i = q0 + r;
    if (i < Lq) {
        const REAL inv = lsum > 0 ? 1 / lsum : 0;
        for (int u = 0; u < DH / ATTN_TPR; ++u) {
            const int c = tq + u * ATTN_TPR;
            if (c < dh) O[i * ldo + c] = o[u] * inv;
        }
        if (tq == 0) lse[i] = lsum > 0 ? m + log(lsum) : 0;
    }
}

inline void attn_backward_dq(const int DH, const int BK,
                             const int Lq, const int Lk, const int dh, const REAL scale,
                             __global const REAL* Q, const int ldq, __global const REAL* K, const int ldk,
                             __global const REAL* V, const int ldv, __global const REAL* mask, const int hasMask,
                             __global const REAL* O, __global const REAL* dO, const int ldo,
                             __global const REAL* lse, __global REAL* dQ,
                             __local REAL* Qs, __local REAL* dOs, __local REAL* Ks, __local REAL* Vs, __local REAL* S)
{
    const int t = get_local_id(0);
    const int r = t / ATTN_TPR, tq = t % ATTN_TPR;
    const int q0 = get_group_id(0) * ATTN_BQ;
    const int DP = DH + 1, SP = BK + 1;
    const int i = q0 + r;

    attn_load_tile(DH, ATTN_BQ, Qs, Q, ldq, q0, Lq, dh, scale, 0, mask, hasMask);
    attn_load_tile(DH, ATTN_BQ, dOs, dO, ldo, q0, Lq, dh, 1, 0, mask, hasMask);
    const REAL D = i < Lq ? attn_delta(dO + i * ldo, O + i * ldo, dh) : 0;
    const REAL L = i < Lq ? lse[i] : 0;

    REAL dq[ATTN_OREG];
    for (int u = 0; u < DH / ATTN_TPR; ++u) dq[u] = 0;

    for (int k0 = 0; k0 < Lk; k0 += BK) {
        attn_load_tile(DH, BK, Ks, K, ldk, k0, Lk, dh, 1, 1, mask, hasMask);
        attn_load_tile(DH, BK, Vs, V, ldv, k0, Lk, dh, 1, 1, mask, hasMask);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int w = 0; w < BK / ATTN_TPR; ++w) {
            const int jj = tq + w * ATTN_TPR;
            REAL s = 0, dp = 0;
            for (int c = 0; c < DH; ++c) {
                s = fma(Qs[r * DP + c], Ks[jj * DP + c], s);
                dp = fma(dOs[r * DP + c], Vs[jj * DP + c], dp);
            }
            const REAL p = attn_key_valid(k0 + jj, Lk, mask, hasMask) ? exp(s - L) : 0;
            S[r * SP + jj] = p * (dp - D);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int jj = 0; jj < BK; ++jj) {
            const REAL ds = S[r * SP + jj];
            for (int u = 0; u < DH / ATTN_TPR; ++u) dq[u] = fma(ds, Ks[jj * DP + tq + u * ATTN_TPR], dq[u]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    if (i < Lq) {
        for (int u = 0; u < DH / ATTN_TPR; ++u) {
            const int c = tq + u * ATTN_TPR;
            if (c < dh) dQ[i * ldq + c] = scale * dq[u];
        }
    }
}

// dQ shares Q's layout (ldq); the caller passes dQ already offset like Q.
inline void attn_backward_dkv(const int DH, const int BQT,
                              const int Lq, const int Lk, const int dh, const REAL scale,
                              __global const REAL* Q, const int ldq, __global const REAL* K, const int ldk,
                              __global const REAL* V, const int ldv, __global const REAL* mask, const int hasMask,
                              __global const REAL* O, __global const REAL* dO, const int ldo,
                              __global const REAL* lse, __global REAL* dK, __global REAL* dV,
                              __local REAL* Ks, __local REAL* Vs, __local REAL* Qs, __local REAL* dOs,
                              __local REAL* P, __local REAL* dS, __local REAL* Dl, __local REAL* Ll)
{
    const int t = get_local_id(0);
    const int r = t / ATTN_TPR, tq = t % ATTN_TPR;
    const int j0 = get_group_id(0) * ATTN_BQ;
    const int DP = DH + 1, SP = BQT + 1;
    const int j = j0 + r;
    const int kvalid = attn_key_valid(j, Lk, mask, hasMask);

    attn_load_tile(DH, ATTN_BQ, Ks, K, ldk, j0, Lk, dh, 1, 1, mask, hasMask);
    attn_load_tile(DH, ATTN_BQ, Vs, V, ldv, j0, Lk, dh, 1, 1, mask, hasMask);

    REAL dk[ATTN_OREG], dv[ATTN_OREG];
    for (int u = 0; u < DH / ATTN_TPR; ++u) { dk[u] = 0; dv[u] = 0; }

    for (int i0 = 0; i0 < Lq; i0 += BQT) {
        attn_load_tile(DH, BQT, Qs, Q, ldq, i0, Lq, dh, scale, 0, mask, hasMask);
        attn_load_tile(DH, BQT, dOs, dO, ldo, i0, Lq, dh, 1, 0, mask, hasMask);
        for (int ii = t; ii < BQT; ii += ATTN_WG) {
            const int i = i0 + ii;
            Dl[ii] = i < Lq ? attn_delta(dO + i * ldo, O + i * ldo, dh) : 0;
            Ll[ii] = i < Lq ? lse[i] : 0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int w = 0; w < BQT / ATTN_TPR; ++w) {
            const int ii = tq + w * ATTN_TPR;
            REAL s = 0, dp = 0;
            for (int c = 0; c < DH; ++c) {
                s = fma(Qs[ii * DP + c], Ks[r * DP + c], s);
                dp = fma(dOs[ii * DP + c], Vs[r * DP + c], dp);
            }
            const REAL p = kvalid && i0 + ii < Lq ? exp(s - Ll[ii]) : 0;
            P[r * SP + ii] = p;
            dS[r * SP + ii] = p * (dp - Dl[ii]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int ii = 0; ii < BQT; ++ii) {
            const REAL p = P[r * SP + ii], ds = dS[r * SP + ii];
            for (int u = 0; u < DH / ATTN_TPR; ++u) {
                const int c = tq + u * ATTN_TPR;
                dv[u] = fma(p, dOs[ii * DP + c], dv[u]);
                dk[u] = fma(ds, Qs[ii * DP + c], dk[u]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    if (j < Lk) {
        for (int u = 0; u < DH / ATTN_TPR; ++u) {
            const int c = tq + u * ATTN_TPR;
            if (c < dh) {
                dK[j * ldk + c] = dk[u];
                dV[j * ldv + c] = dv[u];
            }
        }
    }
}

// Kernel arguments, shared by the three kernels (unused ones are ignored):
#define ATTN_ARGS                                                                                \
    const int Lq, const int Lk, const int H, const int dh, const REAL scale,                     \
    __global const REAL* Q, const int offQ, const int ldq,                                       \
    __global const REAL* K, const int offK, const int ldk,                                       \
    __global const REAL* V, const int offV, const int ldv,                                       \
    __global const REAL* mask, const int hasMask,                                                \
    __global REAL* O, const int offO, const int ldo,                                             \
    __global REAL* lse
// Pointers moved to sample b, head h.
#define ATTN_BIND                                                                                \
    const int h = get_group_id(1), b = get_group_id(2);                                          \
    __global const REAL* Qb = Q + offQ + b * Lq * ldq + h * dh;                                  \
    __global const REAL* Kb = K + offK + b * Lk * ldk + h * dh;                                  \
    __global const REAL* Vb = V + offV + b * Lk * ldv + h * dh;                                  \
    __global const REAL* maskb = mask + (hasMask ? b * Lk : 0);                                  \
    __global REAL* lseb = lse + (b * H + h) * Lq;

#define ATTN_FORWARD_KERNEL(DH, BK)                                                              \
__kernel __attribute__((reqd_work_group_size(ATTN_WG, 1, 1)))                                   \
void attention_forward_d##DH(ATTN_ARGS)                                                         \
{                                                                                                \
    __local REAL Qs[ATTN_BQ * (DH + 1)], Ks[BK * (DH + 1)], Vs[BK * (DH + 1)];                   \
    __local REAL S[ATTN_BQ * (BK + 1)], red[ATTN_WG];                                            \
    ATTN_BIND                                                                                    \
    attn_forward(DH, BK, Lq, Lk, dh, scale, Qb, ldq, Kb, ldk, Vb, ldv, maskb, hasMask,           \
                 O + offO + b * Lq * ldo + h * dh, ldo, lseb, Qs, Ks, Vs, S, red);               \
}

// The backward's O is the forward output (read only); dO, dQ, dK, dV follow O, Q, K, V.
#define ATTN_BACKWARD_KERNELS(DH, BK)                                                            \
__kernel __attribute__((reqd_work_group_size(ATTN_WG, 1, 1)))                                   \
void attention_backward_dq_d##DH(ATTN_ARGS, __global const REAL* dO, __global REAL* dQ)         \
{                                                                                                \
    __local REAL Qs[ATTN_BQ * (DH + 1)], dOs[ATTN_BQ * (DH + 1)];                                \
    __local REAL Ks[BK * (DH + 1)], Vs[BK * (DH + 1)], S[ATTN_BQ * (BK + 1)];                    \
    ATTN_BIND                                                                                    \
    const int oo = offO + b * Lq * ldo + h * dh;                                                 \
    attn_backward_dq(DH, BK, Lq, Lk, dh, scale, Qb, ldq, Kb, ldk, Vb, ldv, maskb, hasMask,       \
                     O + oo, dO + oo, ldo, lseb, dQ + offQ + b * Lq * ldq + h * dh,              \
                     Qs, dOs, Ks, Vs, S);                                                        \
}                                                                                                \
__kernel __attribute__((reqd_work_group_size(ATTN_WG, 1, 1)))                                   \
void attention_backward_dkv_d##DH(ATTN_ARGS, __global const REAL* dO, __global REAL* dK,        \
                                  __global REAL* dV)                                             \
{                                                                                                \
    __local REAL Ks[ATTN_BQ * (DH + 1)], Vs[ATTN_BQ * (DH + 1)];                                 \
    __local REAL Qs[BK * (DH + 1)], dOs[BK * (DH + 1)];                                          \
    __local REAL P[ATTN_BQ * (BK + 1)], dS[ATTN_BQ * (BK + 1)], Dl[BK], Ll[BK];                  \
    ATTN_BIND                                                                                    \
    const int oo = offO + b * Lq * ldo + h * dh;                                                 \
    attn_backward_dkv(DH, BK, Lq, Lk, dh, scale, Qb, ldq, Kb, ldk, Vb, ldv, maskb, hasMask,      \
                      O + oo, dO + oo, ldo, lseb,                                                \
                      dK + offK + b * Lk * ldk + h * dh, dV + offV + b * Lk * ldv + h * dh,      \
                      Ks, Vs, Qs, dOs, P, dS, Dl, Ll);                                           \
}

ATTN_FORWARD_KERNEL(16, ATTN_BK16)
ATTN_FORWARD_KERNEL(32, ATTN_BK32)
ATTN_FORWARD_KERNEL(64, ATTN_BK64)
ATTN_FORWARD_KERNEL(128, ATTN_BK128)
ATTN_BACKWARD_KERNELS(16, ATTN_BK16)
ATTN_BACKWARD_KERNELS(32, ATTN_BK32)
ATTN_BACKWARD_KERNELS(64, ATTN_BK64)
ATTN_BACKWARD_KERNELS(128, ATTN_BK128)
