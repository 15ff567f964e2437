// Strided batched GEMM, row-major: C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] (+ bias[n]).
// One work-group computes a GEMM_TILE_M x GEMM_TILE_N tile of C; each work-item computes
// GEMM_WPT_M x GEMM_WPT_N outputs in runs of GEMM_VW consecutive rows (and columns), the runs
// GEMM_RTS_M·GEMM_VW (GEMM_RTS_N·GEMM_VW) apart, so neighbouring work-items touch neighbouring
// runs (coalesced stores, conflict-free local reads).
// Edges are handled by zero-filling the local tiles, so any M, N, K works.

#ifndef GEMM_TILE_M
#define GEMM_TILE_M 64
#endif
#ifndef GEMM_TILE_N
#define GEMM_TILE_N 64
#endif
#ifndef GEMM_TILE_K
#define GEMM_TILE_K 16
#endif
#ifndef GEMM_WPT_M
#define GEMM_WPT_M 4
#endif
#ifndef GEMM_WPT_N
#define GEMM_WPT_N 4
#endif
// Floats of padding after each GEMM_TILE_M (or _N) row of a local tile. The loaders of an
// untransposed operand store consecutive work-items' values GEMM_TILE_M apart: with a tile a
// multiple of the local memory's bank count they all land in one bank, and 1 spreads them.
#ifndef GEMM_PAD
#define GEMM_PAD 0
#endif
#define GEMM_LDA_LOCAL (GEMM_TILE_M + GEMM_PAD)
#define GEMM_LDB_LOCAL (GEMM_TILE_N + GEMM_PAD)
// 1: each work-item loads its share of the next k-step's tiles into registers before the
// products of this one, so the global loads are in flight while it computes (register double
// buffering); 0: it loads each step's share after the barrier that ends the last one.
#ifndef GEMM_DB
#define GEMM_DB 0
#endif
// Floats per local read in the products: with 4, a work-item reads its WPT_M + WPT_N operands of
// a k-step in (WPT_M + WPT_N) / 4 vector loads instead of one load per float, which on a GPU
// is what bounds an 8 x 8 work-item's FMA rate (16 local loads per 64 FMAs). The host keeps
// WPT_M, WPT_N and PAD multiples of it, so every vector read is aligned.
#ifndef GEMM_VW
#define GEMM_VW 1
#endif
#define GEMM_RTS_M (GEMM_TILE_M / GEMM_WPT_M)
#define GEMM_RTS_N (GEMM_TILE_N / GEMM_WPT_N)
#define GEMM_WG (GEMM_RTS_M * GEMM_RTS_N)
// Offset in the tile of this work-item's output i (rows: ty, RTS_M; columns: tx, RTS_N).
#define GEMM_OWN(t, i, rts) (((i) / GEMM_VW) * ((rts) * GEMM_VW) + (t) * GEMM_VW + (i) % GEMM_VW)
#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define GEMM_REALV GEMM_CAT(REAL, GEMM_VW)
#define GEMM_VSTORE GEMM_CAT(vstore, GEMM_VW)
// Elements of one k-step's A and B tiles each work-item loads.
#define GEMM_A_SHARE ((GEMM_TILE_K * GEMM_TILE_M + GEMM_WG - 1) / GEMM_WG)
#define GEMM_B_SHARE ((GEMM_TILE_K * GEMM_TILE_N + GEMM_WG - 1) / GEMM_WG)

// Element l of the k-step at k0's A tile: op(A)[m0 + mm][k0 + kk], 0 outside the matrix or past
// the tile (l ≥ TILE_K·TILE_M), and the local slot As[kk][mm] it goes to. Consecutive l read
// consecutive addresses.
inline REAL gemm_a_value(const int ta, __global const REAL* restrict A, const int lda, const int M, const int K,
                         const int m0, const int k0, const int l)
{
    const int mm = ta ? l % GEMM_TILE_M : l / GEMM_TILE_K;
    const int kk = ta ? l / GEMM_TILE_M : l % GEMM_TILE_K;
    const int gm = m0 + mm, gk = k0 + kk;
    if (l >= GEMM_TILE_K * GEMM_TILE_M || gm >= M || gk >= K) return 0;
    return ta ? A[gk * lda + gm] : A[gm * lda + gk];
}

inline int gemm_a_slot(const int ta, const int l)
{
    const int mm = ta ? l % GEMM_TILE_M : l / GEMM_TILE_K;
    const int kk = ta ? l / GEMM_TILE_M : l % GEMM_TILE_K;
    return kk * GEMM_LDA_LOCAL + mm;
}

// The same for B: op(B)[k0 + kk][n0 + nn] into Bs[kk][nn].
inline REAL gemm_b_value(const int tb, __global const REAL* restrict B, const int ldb, const int N, const int K,
                         const int n0, const int k0, const int l)
{
    const int nn = tb ? l / GEMM_TILE_K : l % GEMM_TILE_N;
    const int kk = tb ? l % GEMM_TILE_K : l / GEMM_TILE_N;
    const int gn = n0 + nn, gk = k0 + kk;
    if (l >= GEMM_TILE_K * GEMM_TILE_N || gn >= N || gk >= K) return 0;
    return tb ? B[gn * ldb + gk] : B[gk * ldb + gn];
}

inline int gemm_b_slot(const int tb, const int l)
{
    const int nn = tb ? l / GEMM_TILE_K : l % GEMM_TILE_N;
    const int kk = tb ? l % GEMM_TILE_K : l / GEMM_TILE_N;
    return kk * GEMM_LDB_LOCAL + nn;
}

inline void gemm_tile(const int ta, const int tb,
                      const int M, const int N, const int K, const REAL alpha,
                      __global const REAL* restrict A, const int lda,
                      __global const REAL* restrict B, const int ldb,
                      const REAL beta, __global REAL* C, const int ldc,
                      __global const REAL* restrict bias, const int hasBias,
                      __local REAL* As, __local REAL* Bs)
{
    const int tx = get_local_id(0);
    const int ty = get_local_id(1);
    const int lid = ty * GEMM_RTS_N + tx;
    const int m0 = get_group_id(1) * GEMM_TILE_M;
    const int n0 = get_group_id(0) * GEMM_TILE_N;

    REAL acc[GEMM_WPT_M][GEMM_WPT_N];
    for (int i = 0; i < GEMM_WPT_M; ++i)
        for (int j = 0; j < GEMM_WPT_N; ++j) acc[i][j] = 0;

    // This work-item's share of a k-step's tiles: elements lid, lid + WG, ... of each.
    REAL ra[GEMM_A_SHARE], rb[GEMM_B_SHARE];
#if GEMM_DB
    for (int t = 0; t < GEMM_A_SHARE; ++t) ra[t] = gemm_a_value(ta, A, lda, M, K, m0, 0, lid + t * GEMM_WG);
    for (int t = 0; t < GEMM_B_SHARE; ++t) rb[t] = gemm_b_value(tb, B, ldb, N, K, n0, 0, lid + t * GEMM_WG);
#endif
    for (int k0 = 0; k0 < K; k0 += GEMM_TILE_K) {
#if !GEMM_DB
        for (int t = 0; t < GEMM_A_SHARE; ++t) ra[t] = gemm_a_value(ta, A, lda, M, K, m0, k0, lid + t * GEMM_WG);
        for (int t = 0; t < GEMM_B_SHARE; ++t) rb[t] = gemm_b_value(tb, B, ldb, N, K, n0, k0, lid + t * GEMM_WG);
#endif
        for (int t = 0; t < GEMM_A_SHARE; ++t) {
            const int l = lid + t * GEMM_WG;
            if (l < GEMM_TILE_K * GEMM_TILE_M) As[gemm_a_slot(ta, l)] = ra[t];
        }
        for (int t = 0; t < GEMM_B_SHARE; ++t) {
            const int l = lid + t * GEMM_WG;
            if (l < GEMM_TILE_K * GEMM_TILE_N) Bs[gemm_b_slot(tb, l)] = rb[t];
        }
#if GEMM_DB
        // The next k-step's loads (0 past K), in flight during this step's products.
        for (int t = 0; t < GEMM_A_SHARE; ++t)
            ra[t] = gemm_a_value(ta, A, lda, M, K, m0, k0 + GEMM_TILE_K, lid + t * GEMM_WG);
        for (int t = 0; t < GEMM_B_SHARE; ++t)
            rb[t] = gemm_b_value(tb, B, ldb, N, K, n0, k0 + GEMM_TILE_K, lid + t * GEMM_WG);
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < GEMM_TILE_K; ++kk) {
            REAL a[GEMM_WPT_M], b[GEMM_WPT_N];
#if GEMM_VW == 1
            for (int i = 0; i < GEMM_WPT_M; ++i) a[i] = As[kk * GEMM_LDA_LOCAL + GEMM_OWN(ty, i, GEMM_RTS_M)];
            for (int j = 0; j < GEMM_WPT_N; ++j) b[j] = Bs[kk * GEMM_LDB_LOCAL + GEMM_OWN(tx, j, GEMM_RTS_N)];
#else
            // Run v of this work-item's rows is vector v·RTS_M + ty of the k-step's local row.
            __local const GEMM_REALV* av = (__local const GEMM_REALV*)(As + kk * GEMM_LDA_LOCAL);
            __local const GEMM_REALV* bv = (__local const GEMM_REALV*)(Bs + kk * GEMM_LDB_LOCAL);
            for (int v = 0; v < GEMM_WPT_M / GEMM_VW; ++v) GEMM_VSTORE(av[v * GEMM_RTS_M + ty], 0, a + v * GEMM_VW);
            for (int v = 0; v < GEMM_WPT_N / GEMM_VW; ++v) GEMM_VSTORE(bv[v * GEMM_RTS_N + tx], 0, b + v * GEMM_VW);
#endif
            for (int i = 0; i < GEMM_WPT_M; ++i)
                for (int j = 0; j < GEMM_WPT_N; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int i = 0; i < GEMM_WPT_M; ++i) {
        const int m = m0 + GEMM_OWN(ty, i, GEMM_RTS_M);
        if (m >= M) continue;
        for (int j = 0; j < GEMM_WPT_N; ++j) {
            const int n = n0 + GEMM_OWN(tx, j, GEMM_RTS_N);
            if (n >= N) continue;
            REAL r = alpha * acc[i][j];
            // BLAS semantics: with beta == 0, C is not read (it may hold garbage or NaN).
            if (beta != 0) r = fma(beta, C[m * ldc + n], r);
            if (hasBias) r += bias[n];
            C[m * ldc + n] = r;
        }
    }
}

#define GEMM_KERNEL(NAME, TA, TB)                                                              \
__kernel __attribute__((reqd_work_group_size(GEMM_RTS_N, GEMM_RTS_M, 1)))                     \
void NAME(const int M, const int N, const int K, const REAL alpha,                            \
          __global const REAL* restrict A, const int offA, const int lda, const int strideA,  \
          __global const REAL* restrict B, const int offB, const int ldb, const int strideB,  \
          const REAL beta, __global REAL* C, const int offC, const int ldc, const int strideC,\
          __global const REAL* restrict bias, const int offBias, const int hasBias)           \
{                                                                                              \
    __local REAL As[GEMM_TILE_K * GEMM_LDA_LOCAL] __attribute__((aligned(16)));                \
    __local REAL Bs[GEMM_TILE_K * GEMM_LDB_LOCAL] __attribute__((aligned(16)));                \
    const int b = get_group_id(2);                                                             \
    gemm_tile(TA, TB, M, N, K, alpha, A + offA + b * strideA, lda, B + offB + b * strideB, ldb,\
              beta, C + offC + b * strideC, ldc, bias + offBias, hasBias, As, Bs);             \
}

GEMM_KERNEL(gemm_nn, 0, 0)
GEMM_KERNEL(gemm_nt, 0, 1)
GEMM_KERNEL(gemm_tn, 1, 0)
GEMM_KERNEL(gemm_tt, 1, 1)

// Split reduction (GemmSplitPlan): work-group (., ., s) reduces k in
// [s·kSlice, min(K, (s+1)·kSlice)) of op(A)·op(B) into its own partial W[s] ([M, N], row-major)
// with α = 1, β = 0 and no bias; gemm_split_sum adds the partials. Single products only.
#define GEMM_SPLIT_KERNEL(NAME, TA, TB)                                                        \
__kernel __attribute__((reqd_work_group_size(GEMM_RTS_N, GEMM_RTS_M, 1)))                     \
void NAME(const int M, const int N, const int K, const int kSlice,                            \
          __global const REAL* restrict A, const int offA, const int lda,                     \
          __global const REAL* restrict B, const int offB, const int ldb,                     \
          __global REAL* restrict W)                                                           \
{                                                                                              \
    __local REAL As[GEMM_TILE_K * GEMM_LDA_LOCAL] __attribute__((aligned(16)));                \
    __local REAL Bs[GEMM_TILE_K * GEMM_LDB_LOCAL] __attribute__((aligned(16)));                \
    const int s = get_group_id(2);                                                             \
    const int k0 = s * kSlice;                                                                 \
    /* The bias argument is never read without hasBias; W stands in as a valid pointer. */    \
    gemm_tile(TA, TB, M, N, min(kSlice, K - k0), 1, A + offA + (TA ? k0 * lda : k0), lda,      \
              B + offB + (TB ? k0 : k0 * ldb), ldb, 0, W + s * M * N, N, W, 0, As, Bs);        \
}

GEMM_SPLIT_KERNEL(gemm_split_nn, 0, 0)
GEMM_SPLIT_KERNEL(gemm_split_nt, 0, 1)
GEMM_SPLIT_KERNEL(gemm_split_tn, 1, 0)
GEMM_SPLIT_KERNEL(gemm_split_tt, 1, 1)

// C[m, n] = alpha·(W[0, m, n] + W[1, m, n] + ... in slice order) + beta·C[m, n] (+ bias[n]);
// with beta == 0, C is not read. One work-item per element of C; work-groups of any shape.
__kernel void gemm_split_sum(const int M, const int N, const int slices, const REAL alpha,
                             __global const REAL* restrict W, const REAL beta,
                             __global REAL* C, const int offC, const int ldc,
                             __global const REAL* restrict bias, const int offBias, const int hasBias)
{
    const int n = get_global_id(0), m = get_global_id(1);
    if (m >= M || n >= N) return;
    REAL acc = 0;
    for (int s = 0; s < slices; ++s) acc += W[(s * M + m) * N + n];
    REAL r = alpha * acc;
    __global REAL* c = C + offC + m * ldc + n;
    if (beta != 0) r = fma(beta, *c, r);
    if (hasBias) r += bias[offBias + n];
    *c = r;
}
