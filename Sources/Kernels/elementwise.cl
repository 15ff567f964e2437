// Elementwise family (semantics: ElementwiseOps.swift): bias + activation forward/backward,
// residual add, axpy. One element per work-item, consecutive work-items on consecutive
// addresses (coalesced); these are bandwidth-bound, so nothing more is needed.
//
// The bias-activation backward is one fused kernel: a [COLRED_COLS x COLRED_ROWS] work-group
// owns COLRED_COLS columns of one block of rows, writes dx for them and one partial column sum
// of dx (the bias gradient) per block; colred_sum_partials (colred.cl) then adds the partials in block
// order. Fixed partition and order: deterministic.

#ifndef EW_WG
#define EW_WG 256
#endif

#define EW_ACT_GELU 0
#define EW_ACT_RELU 1
#define EW_RSQRT2 0.70710678118654752440f
#define EW_INV_SQRT_2PI 0.39894228040143267794f

inline REAL ew_activation(const int act, const REAL u)
{
    if (act == EW_ACT_RELU) return u > 0 ? u : (REAL)0;
    return (REAL)0.5 * u * ((REAL)1 + erf(u * EW_RSQRT2));
}

inline REAL ew_derivative(const int act, const REAL u)
{
    if (act == EW_ACT_RELU) return u > 0 ? (REAL)1 : (REAL)0;
    const REAL cdf = (REAL)0.5 * ((REAL)1 + erf(u * EW_RSQRT2));
    return cdf + u * EW_INV_SQRT_2PI * exp((REAL)-0.5 * u * u);
}

// y = act(x + bias[col]); y may be x.
__kernel __attribute__((reqd_work_group_size(EW_WG, 1, 1)))
void elementwise_bias_act_forward(const int n, const int cols, const int act, const int hasBias,
                                  __global const REAL* x, __global const REAL* restrict bias, __global REAL* y)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    REAL u = x[i];
    if (hasBias) u += bias[i % cols];
    y[i] = ew_activation(act, u);
}

// dx = dy * act'(x + bias) for the rows of block b; partial[b, col] = Σ of those dx (when
// writePartial). dx may be dy: each element is read and then written by the same work-item.
__kernel __attribute__((reqd_work_group_size(COLRED_COLS, COLRED_ROWS, 1)))
void elementwise_bias_act_backward(const int rows, const int cols, const int rowsPerBlock, const int act,
                                   const int hasBias, const int writePartial,
                                   __global const REAL* dy, __global const REAL* restrict x,
                                   __global const REAL* restrict bias, __global REAL* dx,
                                   __global REAL* restrict partial)
{
    __local REAL s[COLRED_ROWS * COLRED_COLS];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int j = get_group_id(0) * COLRED_COLS + tx;
    const int b = get_group_id(1);
    const int r0 = b * rowsPerBlock;
    const int r1 = min(rows, r0 + rowsPerBlock);
    REAL acc = 0;
    if (j < cols) {
        const REAL bj = hasBias ? bias[j] : (REAL)0;
        for (int i = r0 + ty; i < r1; i += COLRED_ROWS) {
            const int idx = i * cols + j;
            const REAL g = dy[idx] * ew_derivative(act, x[idx] + bj);
            dx[idx] = g;
            acc += g;
        }
    }
    if (!writePartial) return;  // uniform across the group, so no barrier is skipped by some items only
    const REAL total = colred_sum(s, tx, ty, acc);
    if (ty == 0 && j < cols) partial[b * cols + j] = total;
}

// out = a + b (out may alias a or b).
__kernel __attribute__((reqd_work_group_size(EW_WG, 1, 1)))
void elementwise_add(const int n, __global const REAL* a, __global const REAL* b, __global REAL* out)
{
    const int i = get_global_id(0);
    if (i < n) out[i] = a[i] + b[i];
}

// out = a * b, or out += a * b (accumulate != 0); out may alias a or b when not accumulating.
__kernel __attribute__((reqd_work_group_size(EW_WG, 1, 1)))
void elementwise_multiply(const int n, const int accumulate, __global const REAL* a, __global const REAL* b,
                          __global REAL* out)
{
    const int i = get_global_id(0);
    if (i < n) out[i] = accumulate ? a[i] * b[i] + out[i] : a[i] * b[i];
}

// y = alpha * x + y.
__kernel __attribute__((reqd_work_group_size(EW_WG, 1, 1)))
void elementwise_axpy(const int n, const REAL alpha, __global const REAL* x, __global REAL* y)
{
    const int i = get_global_id(0);
    if (i < n) y[i] = alpha * x[i] + y[i];
}
