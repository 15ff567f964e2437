// One-core speed of armmt_avx512_gemm at the shapes the CPU fast paths give it, operands in
// cache (best of 7 samples of repeated calls). `M N K` instead runs that one product (A [M, K],
// B [K, N], up to 16M floats each; at the model's M the operands leave L2, at the projections'
// M = 20992 A leaves L3). Not part of the build:
//   clang -O2 -ISources/CAVX512/include scripts/experiments/avx512_gemm_bench.c Sources/CAVX512/gemm.c -o /tmp/gb && /tmp/gb
//   /tmp/gb 8192 64 192                  # CAFU's first layer over a whole default batch
//   /tmp/gb 64 384 20992 T               # A transposed: the text projection's weight gradient
//   /tmp/gb 64 64 8192 TC                # a list layer's weight gradient, operands from DRAM
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "CAVX512.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    float *a = malloc(64 << 20), *b = malloc(64 << 20), *c = malloc(64 << 20);
    for (int i = 0; i < (16 << 20); i++) {
        a[i] = (i % 13) * 0.1f;
        b[i] = (i % 7) * 0.2f;
    }
    struct { long m, n, k; int transA; const char *name; } shapes[] = {
        {256, 64, 192, 0, "CAFU fwd u·W1T 256x64x192"},  {64, 64, 256, 1, "CAFU dW1 (z) TN 64x64x256"},
        {64, 128, 256, 1, "CAFU dW1 (ctx) TN 64x128x256"}, {256, 64, 64, 0, "CAFU dz 256x64x64"},
        {256, 128, 64, 0, "CAFU dctx 256x128x64"},        {52, 32, 16, 0, "attention S 52x32x16"},
        {32, 16, 50, 1, "attention PV 32x16x50"},
    };
    int count = 7;
    // "C" in the fourth argument: every call takes its operands from the next of several copies
    // spread over the 64 MB buffers, so they come from DRAM, as in a training step where the
    // layers before evicted them.
    int cold = 0;
    if (argc == 4 || argc == 5) {
        shapes[0].m = atol(argv[1]), shapes[0].n = atol(argv[2]), shapes[0].k = atol(argv[3]);
        shapes[0].transA = argc == 5 && strchr(argv[4], 'T') != 0, shapes[0].name = "given shape";
        cold = argc == 5 && strchr(argv[4], 'C') != 0;
        count = 1;
        if (shapes[0].m * shapes[0].k > (16 << 20) || shapes[0].k * shapes[0].n > (16 << 20) ||
            shapes[0].m * shapes[0].n > (16 << 20)) {
            fprintf(stderr, "an operand is over 16M floats\n");
            return 2;
        }
    }
    for (int t = 0; t < count; t++) {
        long m = shapes[t].m, n = shapes[t].n, k = shapes[t].k;
        long lda = shapes[t].transA ? 1 : k, acs = shapes[t].transA ? m : 1;
        double best = 1e9;
        const long copiesA = cold ? (16 << 20) / (m * k) : 1, copiesB = cold ? (16 << 20) / (k * n) : 1;
        for (int rep = 0; rep < 7; rep++) {
            int iterations = 20000000 / (m * n * k) + 1;
            if (cold && iterations < 64) iterations = 64;
            double t0 = now();
            for (int i = 0; i < iterations; i++)
                armmt_avx512_gemm(m, n, k, a + (i % copiesA) * m * k, lda, acs, b + (i % copiesB) * k * n, n, c, n);
            double dt = (now() - t0) / iterations;
            if (dt < best) best = dt;
        }
        printf("%-30s %8.2f us %7.1f GFLOP/s\n", shapes[t].name, best * 1e6, 2.0 * m * n * k / best * 1e-9);
    }
    return 0;
}
