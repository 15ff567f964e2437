#ifndef ARMMT_CAVX512_H
#define ARMMT_CAVX512_H
// CPU kernels in AVX-512 (16 floats a register) for the CPU backend's fast paths. The Swift
// fast paths are compiled for AVX2 (8 floats), so they reach at most half the FMA peak of an
// AVX-512 CPU. These functions are compiled for AVX-512 one function at a time (the target
// attribute in each .c file), so the build still runs on AVX2-only hosts; callers must check
// armmt_cpu_has_avx512_skx() (COpenBLAS/shim.h) before calling any of them.

/// C = A·B, overwriting C. C is [m, n] row-major with row stride ldc; B is [k, n] row-major
/// with row stride ldb; A is read as A[r, l] = a[r·lda + l·acs], so a transposed A (lda = 1,
/// acs = its row length) is read in place. Any m, n, k ≥ 0 (k = 0 writes zeros); columns past n
/// are neither read nor written.
///
/// Every C element is one chain of fused multiply-adds in l order starting from 0:
/// c = fma(A[r, l], B[l, j], c) for l = 0, 1, …, k − 1, the same bits as the Swift fast path's
/// `SmallGemm`, whatever the blocking.
void armmt_avx512_gemm(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                       float *c, long ldc);

/// C += A·B: each element's FMA chain starts from C's old value instead of 0.
void armmt_avx512_gemm_add(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                           float *c, long ldc);

/// C = bias + A·B, bias [n] added to every row: each element's FMA chain starts from bias[j]
/// instead of 0 (no second pass over C).
void armmt_avx512_gemm_bias(long m, long n, long k, const float *a, long lda, long acs, const float *b, long ldb,
                            const float *bias, float *c, long ldc);

/// C = diag(f)·(A·B), or diag(f)·(C + A·B) with fromC: the chains of armmt_avx512_gemm (or
/// _add), then row r times f[r·fs] as it is stored (fs = 0: one factor for every row), one
/// more rounding and no second pass over C. Attention's O (f = 1/Σ per query) and its scaled
/// gradients use it.
void armmt_avx512_gemm_rows_scaled(long m, long n, long k, const float *a, long lda, long acs, const float *b,
                                   long ldb, float *c, long ldc, int fromC, const float *factor, long fs);

/// C = [A1 | A2]·B: the product with A made of two blocks side by side, each read in place
/// (A1[r, l] = a1[r·lda1 + l·acs1] for l < k1, A2 likewise for the next k2 columns), so a
/// caller need not copy them into one buffer; B has k1 + k2 rows. Each C element is one FMA
/// chain over l = 0 … k1 + k2 − 1, as if A were one block.
void armmt_avx512_gemm_concat(long m, long n, long k1, const float *a1, long lda1, long acs1, long k2,
                              const float *a2, long lda2, long acs2, const float *b, long ldb, float *c,
                              long ldc);

/// The CAFU forward after the first layer's product (CAFUFastPath.forward), `rows` rows of
/// `pre` [rows, h]: hp = pre + b1, then pre = ReLU(hp) in place, and when gateRows > 0
/// logits[r, c] = ReLU(hp[r])·w2[c] for c < gateRows (w2 [gateRows, h], logits [rows, gateRows]).
/// hp is written with streaming stores when 64-byte aligned and h is a multiple of 16.
void armmt_avx512_cafu_hidden(long rows, long h, long gateRows, float *pre, const float *b1, const float *w2,
                              float *hp, float *logits);

/// The scalar gate's CAFU forward after pooling (CAFUFastPath.forward; h ≤ 64, m ≤ 16), `rows`
/// items, fused per register tile of rows: hp = b1 + [z ⊕ ctx]·W1ᵀ with z's rows z + i·ldz (d
/// floats), ctx's ctx + i·ldc (dc floats) and w1T = W1ᵀ [d + dc, h]; logits = ReLU(hp)·W2ᵀ + b2
/// (w2 [m, h]); α[i, :] = softmax over the present modalities (0 for absent ones, all 0 when none
/// is present); r[i, :] = Σ_m α[i, m]·x[i, m, :]. hp is written with streaming stores when 64-byte
/// aligned and h is a multiple of 16.
void armmt_avx512_cafu_scalar_forward(long rows, long m, long d, long dc, long h, const float *z, long ldz,
                                      const float *ctx, long ldc, const float *w1T, const float *b1, const float *w2,
                                      const float *b2, const float *mask, const float *x, float *hp, float *alpha,
                                      float *r);

/// The CAFU output (CAFUFastPath.forward), `rows` items: r[i, :] = Σ over present modalities
/// of α[i, mm]·x[i, mm, :] (α[i, mm, :] ⊙ x with the per-dimension gate, dg = d), 0 when none is
/// present.
void armmt_avx512_cafu_mix(long rows, long m, long d, long dg, const float *mask, const float *alpha, const float *x,
                           float *r);

/// The dx rows of the CAFU backward (CAFUFastPath.backwardBlock), `rows` items:
/// dx[i, mm, :] = α[i, mm]·dr[i, :] + dz[i, :]/P_i for a present modality (α[i, mm, :] ⊙ dr
/// with the per-dimension gate, dg = d), 0 for an absent one; P_i the number present. dx is
/// written with streaming stores when it is 64-byte aligned and d is a multiple of 16.
void armmt_avx512_cafu_dx(long rows, long m, long d, long dg, const float *mask, const float *alpha,
                          const float *dr, const float *dz, float *dx);

/// Attention's softmax over keys of transposed scores Sᵀ [n, lq8] in place (the AVX-512 form of
/// AttentionFastPath.softmaxColumns, lane for lane the same bits): Pᵀ = e^(Sᵀ − max) unnormalised,
/// per query max, sum = Σ and inverseSum = 1/Σ (lse = max + log Σ is left to
/// armmt_avx512_add_log); rows n..<n4 set to 0. lq8 a multiple of 8, n ≥ 1.
void armmt_avx512_softmax_columns(float *s, long n, long n4, long lq8, float *max, float *sum, float *inverseSum);

/// The exponentials of armmt_avx512_softmax_columns on rows of 32 lanes, the per-query max
/// given: Pᵀ = e^(Sᵀ − max) in place over rows j < n, sum = Σ, inverseSum = 1/Σ.
void armmt_avx512_exp_columns32(float *s, long n, const float *max, float *sum, float *inverseSum);

/// x[i] = x[i] + log y[i] for i < count, y ≥ 1 (VectorMath.log's bits): attention's
/// lse = max + log Σ.
void armmt_avx512_add_log(long count, float *x, const float *y);

/// The attention backward's elementwise step (AttentionFastPath.probabilitiesAndScoreGradient,
/// the same bits): s ← Pᵀ = e^(Sᵀ − lse); per query D = Σ_j P ⊙ dP in key order; dP ← Pᵀ ⊙ (dPᵀ − D);
/// rows n..<n4 of both set to 0.
void armmt_avx512_probabilities_and_score_gradient(float *s, float *dP, long n, long n4, long lq8, const float *lse);

/// dst[c·ldd + i] = factor·src[i·ld + c] for c < width, i < ldd: rows..<ldd are 0. The 16 × 16
/// tiles are transposed in registers.
void armmt_avx512_transpose_scaled(long rows, long width, float factor, const float *src, long ld, float *dst,
                                   long ldd);

/// `rows` rows of `width` floats at base + r·ld, to prefetch (for writing when `write`) while a
/// kernel computes.
typedef struct {
    const float *base;
    long rows, ld, width;
    int write;
} armmt_prefetch_rows;

/// The fused attention forward of one sample, every head (AttentionFastPath.forward; the same
/// bits as its per-head loop): n ≥ 1 valid keys whose rows are k + j·ldk (head h at + h·khs),
/// likewise v; queries q + i·ldq (head h at + h·dh), i < lq; writes O's rows out + i·ldo
/// (head h at + h·dh) and lse[h·lq + i]. Per head and block of up to 32 queries:
/// Sᵀ = K·(scale·Qᵀ), Pᵀ = e^(Sᵀ − max), O = (P·V)·(1/Σ), lse = max + log Σ. At dh = 16 each
/// block runs in one function (Sᵀ and the max in one pass); the bits are those of the general path.
/// work: at least dh·32 + round4(n)·32 + 96 + heads·lq floats. The `nextCount` blocks of rows
/// at `next` (the next sample's) are prefetched, a share before each head and query block.
void armmt_avx512_attention_forward(long lq, long n, long heads, long dh, float scale, const float *q, long ldq,
                                    const float *k, long ldk, long khs, const float *v, long ldv, long vhs, float *out,
                                    long ldo, float *lse, float *work, const armmt_prefetch_rows *next,
                                    long nextCount);

/// The attention backward of one sample, every head (AttentionFastPath.backward; the same bits
/// as its per-head loop). Operands as in armmt_avx512_attention_forward, plus dO's rows
/// (dO + i·lddo) and lse [heads, lq]. Writes dQ's rows (dQ + i·lddq) and the n valid keys'
/// rows of dK and dV (dK + j·lddk, j < n; head h at + h·dh); masked keys' rows are the
/// caller's. At dh = 16 each head and query block runs in one function (P and D's chains from
/// the product tiles' registers, no call per product); the bits are those of the general path.
/// work: at least 2·dh·32 + 2·round4(n)·32 + 32 floats. The `nextCount` blocks of
/// rows at `next` (the next sample's) are prefetched, a share before each head and query block.
void armmt_avx512_attention_backward(long lq, long n, long heads, long dh, float scale, const float *q, long ldq,
                                     const float *dO, long lddo, const float *k, long ldk, long khs, const float *v,
                                     long ldv, long vhs, const float *lse, float *dQ, long lddq, float *dK, long lddk,
                                     float *dV, long lddv, float *work, const armmt_prefetch_rows *next,
                                     long nextCount);

/// y = GELU(x + bias) = u·Φ(u) for `rows` rows of `cols` (ElementwiseFastPath.forward; the same
/// bits lane for lane). bias [cols] may be NULL (u = x). y may alias x.
void armmt_avx512_bias_gelu_forward(long rows, long cols, const float *x, const float *bias, float *y);

/// dx = dy ⊙ GELU'(x + bias), GELU'(u) = Φ(u) + u·φ(u), for `rows` rows of `cols`
/// (ElementwiseFastPath.backward; the same bits lane for lane); when partial is not NULL each
/// row's dx is added into partial [cols], rows in order. bias may be NULL; dx may alias dy.
void armmt_avx512_bias_gelu_backward(long rows, long cols, const float *dy, const float *x, const float *bias,
                                     float *dx, float *partial);

/// One AdamW step over `count` elements (OptimizerFastPath.adamW; the bits of the scalar
/// OptimizerReference.adamW lane for lane): g = gradient·gradientScale, w = parameter·decay,
/// m ← m + (1 − β1)·(g − m), v ← v·β2 + (1 − β2)·g·g,
/// parameter ← w − stepSize·m / (√v / biasCorrection2Sqrt + ε).
void armmt_avx512_adamw(long count, float *parameter, const float *gradient, float *m, float *v, float gradientScale,
                        float decay, float stepSize, float biasCorrection2Sqrt, float beta1, float beta2,
                        float epsilon);

#endif
