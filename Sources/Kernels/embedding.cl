// Embedding gather and its deterministic scatter-add backward.
// Both kernels are flattened over (row, feature) so consecutive work-items touch consecutive
// features of one row: a table row is read, and an output row written, in coalesced runs.

#ifndef EMB_WG
#define EMB_WG 64
#endif

// out[i * width + column + j] = table[indices[i] * dim + j]; -1 gives 0. An index outside
// [-1, rows) is never dereferenced: its row becomes NaN so the error reaches the loss.
__kernel __attribute__((reqd_work_group_size(EMB_WG, 1, 1)))
void embedding_gather(const int n, const int dim, const int rows,
                      __global const REAL* restrict table,
                      __global const int* restrict indices,
                      __global REAL* restrict out, const int width, const int column)
{
    const int gid = get_global_id(0);
    if (gid >= n * dim) return;
    const int i = gid / dim;
    const int j = gid - i * dim;
    const int r = indices[i];
    REAL v;
    if (r >= 0 && r < rows) v = table[r * dim + j];
    else v = (r == -1) ? (REAL)0 : (REAL)NAN;
    out[i * width + column + j] = v;
}

// dTable[rows[u] * dim + j] += sum over q in [offsets[u], offsets[u+1]) of
// dOut[positions[q] * width + column + j]. One work-item owns each (distinct row, feature):
// it sums the row's positions in the plan's fixed (increasing) order from zero, then adds
// once, so there are no atomics and the result is bit-reproducible.
__kernel __attribute__((reqd_work_group_size(EMB_WG, 1, 1)))
void embedding_backward(const int distinct, const int dim,
                        __global const int* restrict rows,
                        __global const int* restrict offsets,
                        __global const int* restrict positions,
                        __global const REAL* restrict dOut, const int width, const int column,
                        __global REAL* restrict dTable)
{
    const int gid = get_global_id(0);
    if (gid >= distinct * dim) return;
    const int u = gid / dim;
    const int j = gid - u * dim;
    const int end = offsets[u + 1];
    REAL acc = 0;
    for (int q = offsets[u]; q < end; ++q) acc += dOut[positions[q] * width + column + j];
    dTable[rows[u] * dim + j] += acc;
}

// The same sum for plans with long rows, in two passes (EmbeddingGatherPlan's chunks). First:
// partial[c * dim + j] = sum over q in [chunkStarts[c], chunkStarts[c+1]) of
// dOut[positions[q] * width + column + j], in increasing q.
__kernel __attribute__((reqd_work_group_size(EMB_WG, 1, 1)))
void embedding_backward_chunks(const int chunks, const int dim,
                               __global const int* restrict chunkStarts,
                               __global const int* restrict positions,
                               __global const REAL* restrict dOut, const int width, const int column,
                               __global REAL* restrict partial)
{
    const int gid = get_global_id(0);
    if (gid >= chunks * dim) return;
    const int c = gid / dim;
    const int j = gid - c * dim;
    const int end = chunkStarts[c + 1];
    REAL acc = 0;
    for (int q = chunkStarts[c]; q < end; ++q) acc += dOut[positions[q] * width + column + j];
    partial[c * dim + j] = acc;
}

// Second: dTable[rows[u] * dim + j] += the partials of row u's chunks
// [chunkOffsets[u], chunkOffsets[u+1]), added in chunk order.
__kernel __attribute__((reqd_work_group_size(EMB_WG, 1, 1)))
void embedding_backward_rows(const int distinct, const int dim,
                             __global const int* restrict rows,
                             __global const int* restrict chunkOffsets,
                             __global const REAL* restrict partial,
                             __global REAL* restrict dTable)
{
    const int gid = get_global_id(0);
    if (gid >= distinct * dim) return;
    const int u = gid / dim;
    const int j = gid - u * dim;
    const int end = chunkOffsets[u + 1];
    REAL acc = 0;
    for (int c = chunkOffsets[u]; c < end; ++c) acc += partial[c * dim + j];
    dTable[rows[u] * dim + j] += acc;
}
