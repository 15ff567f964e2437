// Second pass of every deterministic column reduction (ColumnReducePlan): the first pass of
// each op writes partial[b, j] per row block b; this adds them in block order.

// out[j] = Σ_b partial[b, j] for b in 0..<blocks, in a fixed order.
__kernel __attribute__((reqd_work_group_size(COLRED_COLS, COLRED_ROWS, 1)))
void colred_sum_partials(const int blocks, const int cols, __global const REAL* restrict partial,
                         __global REAL* restrict out)
{
    __local REAL s[COLRED_ROWS * COLRED_COLS];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int j = get_group_id(0) * COLRED_COLS + tx;
    REAL acc = 0;
    if (j < cols) for (int b = ty; b < blocks; b += COLRED_ROWS) acc += partial[b * cols + j];
    const REAL total = colred_sum(s, tx, ty, acc);
    if (ty == 0 && j < cols) out[j] = total;
}
