// Context-Aware Fusion Unit gate (spec §2.3; semantics and shapes: CAFUOps.swift).
//
// Forward: one fused kernel. A work-group of CAFU_WG work-items owns `tile` items (the host
// picks tile so the local buffers fit and tile·H ≤ CAFU_WG·CAFU_ACC):
//   1. presence and 1/P per item (local);
//   2. s = W1·[z ⊕ k] + b1 as a small GEMM [tile, d+dc]·[d+dc, H]: CAFU_KC input columns at a time,
//      the pooled inputs (z computed on the fly from x and the mask) and the W1 chunk are staged
//      in local memory, each work-item keeps up to CAFU_ACC outputs in registers;
//   3. a = W2·ReLU(s) + b2 with W2 staged through local memory `gc` rows at a time;
//   4. masked softmax over modalities per gate column, α written; r = Σ α_m x_m written.
// Local rows are padded by one element (KC+1, H+1) so work-items with consecutive h or t hit
// distinct banks.
//
// Backward: cafu_backward_gate (per item: da, the α·dr part of dx, z), two GEMMs through the
// gemm family (ds = da·W2, dU = ds·W1) with cafu_relu_backward in between, cafu_backward_inputs
// (dx += (p/P)·dz, dContext), and the weight gradients as per-block partial products
// (cafu_weight_partial) summed in block order (cafu_weight_finalize): deterministic.

#ifndef CAFU_WG
#define CAFU_WG 256
#endif
#ifndef CAFU_KC
#define CAFU_KC 32
#endif
#ifndef CAFU_ACC
#define CAFU_ACC 8
#endif
#define CAFU_LANES 32
#define CAFU_ITEMS_PER_GROUP (CAFU_WG / CAFU_LANES)

__kernel __attribute__((reqd_work_group_size(CAFU_WG, 1, 1)))
void cafu_forward(const int N, const int M, const int d, const int dc, const int H, const int G, const int Dg,
                  const int tile, const int gc,
                  __global const REAL* restrict X, __global const REAL* restrict mask,
                  __global const REAL* restrict ctx, __global const REAL* restrict W1,
                  __global const REAL* restrict b1, __global const REAL* restrict W2,
                  __global const REAL* restrict b2, __global REAL* restrict r,
                  __global REAL* restrict alpha, __global REAL* restrict hpre,
                  __local REAL* us, __local REAL* ws, __local REAL* hs, __local REAL* as, __local REAL* ps)
{
    const int lid = get_local_id(0);
    const int n0 = get_group_id(0) * tile;
    const int K = d + dc;
    __local REAL* inv = ps + tile * M;   // 1/P per item, 0 when none present

    for (int l = lid; l < tile * M; l += CAFU_WG) {
        const int n = n0 + l / M;
        ps[l] = (n < N && mask[n * M + l % M] != 0) ? (REAL)1 : (REAL)0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int t = lid; t < tile; t += CAFU_WG) {
        REAL count = 0;
        for (int m = 0; m < M; ++m) count += ps[t * M + m];
        inv[t] = count > 0 ? (REAL)1 / count : (REAL)0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    // 2. hidden pre-activations.
    const int outs = tile * H;
    REAL acc[CAFU_ACC];
    for (int i = 0; i < CAFU_ACC; ++i) acc[i] = 0;
    for (int k0 = 0; k0 < K; k0 += CAFU_KC) {
        for (int l = lid; l < tile * CAFU_KC; l += CAFU_WG) {
            const int t = l / CAFU_KC, k = k0 + l % CAFU_KC, n = n0 + t;
            REAL v = 0;
            if (n < N && k < K) {
                if (k < d) {
                    for (int m = 0; m < M; ++m)
                        if (ps[t * M + m] != 0) v += X[(n * M + m) * d + k];
                    v *= inv[t];
                } else {
                    v = ctx[n * dc + (k - d)];
                }
            }
            us[l] = v;
        }
        for (int l = lid; l < H * CAFU_KC; l += CAFU_WG) {
            const int h = l / CAFU_KC, kk = l % CAFU_KC, k = k0 + kk;
            ws[h * (CAFU_KC + 1) + kk] = k < K ? W1[h * K + k] : (REAL)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = 0; i < CAFU_ACC; ++i) {
            const int o = lid + i * CAFU_WG;
            if (o < outs) {
                __local const REAL* urow = us + (o / H) * CAFU_KC;
                __local const REAL* wrow = ws + (o % H) * (CAFU_KC + 1);
                REAL s = acc[i];
                for (int kk = 0; kk < CAFU_KC; ++kk) s = fma(urow[kk], wrow[kk], s);
                acc[i] = s;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < CAFU_ACC; ++i) {
        const int o = lid + i * CAFU_WG;
        if (o < outs) {
            const int t = o / H, h = o % H, n = n0 + t;
            const REAL v = acc[i] + b1[h];
            if (n < N) hpre[n * H + h] = v;   // the tile's rows are contiguous: coalesced
            hs[t * (H + 1) + h] = fmax(v, (REAL)0);
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    // 3. gate logits, W2 staged gc rows at a time.
    for (int g0 = 0; g0 < G; g0 += gc) {
        const int rowsHere = min(gc, G - g0);
        for (int l = lid; l < rowsHere * H; l += CAFU_WG)
            ws[(l / H) * (H + 1) + l % H] = W2[g0 * H + l];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int l = lid; l < tile * rowsHere; l += CAFU_WG) {
            // t fastest: work-items sharing a W2 row read the same local word (broadcast).
            const int t = l % tile, gg = l / tile;
            __local const REAL* hrow = hs + t * (H + 1);
            __local const REAL* wrow = ws + gg * (H + 1);
            REAL s = b2[g0 + gg];
            for (int h = 0; h < H; ++h) s = fma(hrow[h], wrow[h], s);
            as[t * G + g0 + gg] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    // 4. masked softmax per (item, gate column), then r.
    for (int l = lid; l < tile * Dg; l += CAFU_WG) {
        const int t = l / Dg, c = l % Dg, n = n0 + t;
        __local REAL* a = as + t * G + c;
        REAL top = -INFINITY;
        for (int m = 0; m < M; ++m) if (ps[t * M + m] != 0) top = fmax(top, a[m * Dg]);
        REAL sum = 0;
        for (int m = 0; m < M; ++m) {
            const REAL e = ps[t * M + m] != 0 ? exp(a[m * Dg] - top) : (REAL)0;
            a[m * Dg] = e;
            sum += e;
        }
        const REAL rs = sum > 0 ? (REAL)1 / sum : (REAL)0;
        for (int m = 0; m < M; ++m) {
            const REAL v = a[m * Dg] * rs;
            a[m * Dg] = v;
            if (n < N) alpha[(n * M + m) * Dg + c] = v;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int l = lid; l < tile * d; l += CAFU_WG) {
        const int t = l / d, j = l % d, n = n0 + t;
        if (n >= N) continue;
        REAL s = 0;
        for (int m = 0; m < M; ++m)
            if (ps[t * M + m] != 0) s = fma(as[t * G + m * Dg + (Dg == 1 ? 0 : j)], X[(n * M + m) * d + j], s);
        r[n * d + j] = s;
    }
}

// Sum over the CAFU_LANES work-items of one item row of the group; every work-item must call it.
inline REAL cafu_lane_sum(__local REAL* s, const int lane, const int row, const REAL v)
{
    __local REAL* srow = s + row * CAFU_LANES;
    srow[lane] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = CAFU_LANES >> 1; off > 0; off >>= 1) {
        if (lane < off) srow[lane] += srow[lane + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const REAL r = srow[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

// Per item (a row of CAFU_LANES work-items; lane j covers dimensions j, j + 32, ...):
// dA[n, m·Dg + c] = α(g − Σ α g); dx[n, m, j] = α·dr (present m; 0 otherwise); z[n, j].
__kernel __attribute__((reqd_work_group_size(CAFU_LANES, CAFU_ITEMS_PER_GROUP, 1)))
void cafu_backward_gate(const int N, const int M, const int d, const int Dg, const int hasDAlpha,
                        __global const REAL* restrict dr, __global const REAL* restrict dAlpha,
                        __global const REAL* restrict X, __global const REAL* restrict mask,
                        __global const REAL* restrict alpha, __global REAL* restrict dA,
                        __global REAL* restrict dX, __global REAL* restrict z)
{
    __local REAL s[CAFU_WG];
    const int lane = get_local_id(0), row = get_local_id(1);
    const int n = get_group_id(1) * CAFU_ITEMS_PER_GROUP + row;
    const int valid = n < N;
    const int G = M * Dg;
    REAL count = 0;
    if (valid) for (int m = 0; m < M; ++m) count += mask[n * M + m] != 0 ? (REAL)1 : (REAL)0;
    const REAL inv = count > 0 ? (REAL)1 / count : (REAL)0;

    if (Dg == 1) {
        // Scalar gate: g_m = dr·x_m needs a sum over d across the lanes; M is uniform, so every
        // work-item reaches the same barriers.
        REAL gs = 0;
        for (int m = 0; m < M; ++m) {
            const int present = valid && mask[n * M + m] != 0;
            REAL part = 0;
            if (present) for (int j = lane; j < d; j += CAFU_LANES) part += dr[n * d + j] * X[(n * M + m) * d + j];
            const REAL gm = cafu_lane_sum(s, lane, row, part) + ((valid && hasDAlpha) ? dAlpha[n * M + m] : (REAL)0);
            if (valid) gs += alpha[n * M + m] * gm;
        }
        // Second pass recomputes g_m (cheap, cached) rather than holding M values per work-item.
        for (int m = 0; m < M; ++m) {
            const int present = valid && mask[n * M + m] != 0;
            REAL part = 0;
            if (present) for (int j = lane; j < d; j += CAFU_LANES) part += dr[n * d + j] * X[(n * M + m) * d + j];
            const REAL gm = cafu_lane_sum(s, lane, row, part) + ((valid && hasDAlpha) ? dAlpha[n * M + m] : (REAL)0);
            if (valid && lane == 0) dA[n * G + m] = alpha[n * M + m] * (gm - gs);
        }
    }
    if (!valid) return;
    for (int j = lane; j < d; j += CAFU_LANES) {
        const REAL g = dr[n * d + j];
        REAL zj = 0, gs = 0;
        for (int m = 0; m < M; ++m) {
            const int present = mask[n * M + m] != 0;
            const REAL xm = present ? X[(n * M + m) * d + j] : (REAL)0;
            zj += xm;
            const REAL am = alpha[(n * M + m) * Dg + (Dg == 1 ? 0 : j)];
            dX[(n * M + m) * d + j] = present ? am * g : (REAL)0;
            if (Dg != 1) gs += am * (g * xm + (hasDAlpha ? dAlpha[(n * M + m) * d + j] : (REAL)0));
        }
        z[n * d + j] = zj * inv;
        if (Dg != 1) {
            for (int m = 0; m < M; ++m) {
                const REAL xm = mask[n * M + m] != 0 ? X[(n * M + m) * d + j] : (REAL)0;
                const REAL gm = g * xm + (hasDAlpha ? dAlpha[(n * M + m) * d + j] : (REAL)0);
                dA[n * G + m * d + j] = alpha[(n * M + m) * d + j] * (gm - gs);
            }
        }
    }
}

// ds *= [s > 0] over count elements.
__kernel __attribute__((reqd_work_group_size(CAFU_WG, 1, 1)))
void cafu_relu_backward(const int count, __global const REAL* restrict hpre, __global REAL* restrict ds)
{
    const int i = get_global_id(0);
    if (i < count && !(hpre[i] > 0)) ds[i] = 0;
}

// dx[n, m, j] += (p_m / P)·dU[n, j] for j < d; dContext[n, c] = dU[n, d + c].
__kernel __attribute__((reqd_work_group_size(CAFU_WG, 1, 1)))
void cafu_backward_inputs(const int N, const int M, const int d, const int dc,
                          __global const REAL* restrict dU, __global const REAL* restrict mask,
                          __global REAL* restrict dX, __global REAL* restrict dctx)
{
    const int K = d + dc;
    const int i = get_global_id(0);
    if (i >= N * K) return;
    const int n = i / K, k = i % K;
    const REAL v = dU[i];
    if (k >= d) { dctx[n * dc + (k - d)] = v; return; }
    REAL count = 0;
    for (int m = 0; m < M; ++m) count += mask[n * M + m] != 0 ? (REAL)1 : (REAL)0;
    if (count == 0) return;
    const REAL share = v / count;
    for (int m = 0; m < M; ++m)
        if (mask[n * M + m] != 0) dX[(n * M + m) * d + k] += share;
}

// partial[b, i, j] = Σ_{n in block b} A[n, i]·B(n, j) for i < I, j < J, and partial[b, i, J] = Σ A[n, i]
// (the bias gradient), with B(n, j) = B1[n, j] for j < J1 (ReLU'd when relu1), else B2[n, j − J1].
// A 16x16 work-group computes a 32x32 block of (i, j), 2x2 per work-item, staging 16 items of A and B
// in local memory at a time.
#define CAFU_WT 32
#define CAFU_WN 16
__kernel __attribute__((reqd_work_group_size(16, 16, 1)))
void cafu_weight_partial(const int N, const int I, const int J1, const int J2, const int relu1, const int itemsPerBlock,
                         __global const REAL* restrict A, __global const REAL* restrict B1,
                         __global const REAL* restrict B2, __global REAL* restrict partial)
{
    __local REAL As[CAFU_WN][CAFU_WT];
    __local REAL Bs[CAFU_WN][CAFU_WT];
    const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * 16 + tx;
    const int J = J1 + J2, JP = J + 1;
    const int i0 = get_group_id(1) * CAFU_WT, j0 = get_group_id(0) * CAFU_WT;
    const int b = get_group_id(2);
    const int nBegin = b * itemsPerBlock, nEnd = min(N, nBegin + itemsPerBlock);
    REAL acc[2][2] = {{0, 0}, {0, 0}};
    for (int c0 = nBegin; c0 < nEnd; c0 += CAFU_WN) {
        for (int l = lid; l < CAFU_WN * CAFU_WT; l += 256) {
            const int nn = l / CAFU_WT, cc = l % CAFU_WT, n = c0 + nn;
            const int i = i0 + cc, j = j0 + cc;
            REAL av = 0, bv = 0;
            if (n < nEnd) {
                if (i < I) av = A[n * I + i];
                if (j < J1) { bv = B1[n * J1 + j]; if (relu1) bv = fmax(bv, (REAL)0); }
                else if (j < J) bv = B2[n * J2 + (j - J1)];
                else if (j == J) bv = 1;
            }
            As[nn][cc] = av;
            Bs[nn][cc] = bv;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int nn = 0; nn < CAFU_WN; ++nn) {
            const REAL a0 = As[nn][ty], a1 = As[nn][ty + 16];
            const REAL bb0 = Bs[nn][tx], bb1 = Bs[nn][tx + 16];
            acc[0][0] = fma(a0, bb0, acc[0][0]);
            acc[0][1] = fma(a0, bb1, acc[0][1]);
            acc[1][0] = fma(a1, bb0, acc[1][0]);
            acc[1][1] = fma(a1, bb1, acc[1][1]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int a = 0; a < 2; ++a) {
        const int i = i0 + ty + 16 * a;
        if (i >= I) continue;
        for (int c = 0; c < 2; ++c) {
            const int j = j0 + tx + 16 * c;
            if (j < JP) partial[(b * I + i) * JP + j] = acc[a][c];
        }
    }
}

// dW[i, j] = Σ_b partial[b, i, j] (j < J), db[i] = Σ_b partial[b, i, J], blocks in order.
__kernel __attribute__((reqd_work_group_size(CAFU_WG, 1, 1)))
void cafu_weight_finalize(const int I, const int J, const int blocks, __global const REAL* restrict partial,
                          __global REAL* restrict dW, __global REAL* restrict db)
{
    const int JP = J + 1;
    const int o = get_global_id(0);
    if (o >= I * JP) return;
    REAL s = 0;
    for (int b = 0; b < blocks; ++b) s += partial[b * I * JP + o];
    const int i = o / JP, j = o % JP;
    if (j < J) dW[i * J + j] = s; else db[i] = s;
}
