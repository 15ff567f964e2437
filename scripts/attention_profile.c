// Single-thread profile harness for the AVX-512 attention kernels (Sources/CAVX512/attention.c),
// outside Swift and its thread pool, so `perf record` sees only the kernels' own functions.
// Shapes and key lengths are those of `armmt-gpu bench kernels` (B = 256, Lq = 32, H = 4,
// dh = 16, a random prefix of the keys valid, every 17th sample empty); the next sample's rows
// are prefetched as AttentionFastPath does. HOT=1 reuses two samples' rows, so the data stay
// in cache: the difference to a plain run is the time spent waiting on memory. Needs an AVX-512 CPU.
//
//   S=Sources/CAVX512
//   clang -O2 -g -ffp-contract=off -I$S/include scripts/attention_profile.c $S/attention.c $S/gemm.c $S/softmax.c -o /tmp/attn
//   /tmp/attn 50            # forward, Lk = 50 (behaviour); /tmp/attn 32: the list
//   /tmp/attn 50 backward   # backward
//   NI=600 perf record -o /tmp/attn.data /tmp/attn 50 && perf report -i /tmp/attn.data --no-children --sort symbol
#include "CAVX512.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int byTime(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const int B = 256, LQ = 32, H = 4, DH = 16, W = H * DH, LK = argc > 1 ? atoi(argv[1]) : 50, backward = argc > 2;
    const int runs = getenv("NI") ? atoi(getenv("NI")) : 30, hot = getenv("HOT") != 0;
    const long nq = (long)B * LQ * W, nk = (long)B * LK * W;
    float *q = malloc(4 * nq), *k = malloc(4 * nk), *v = malloc(4 * nk), *o = malloc(4 * nq), *lse = malloc(4L * B * H * LQ);
    float *dq = malloc(4 * nq), *dk = malloc(4 * nk), *dv = malloc(4 * nk), *work = malloc(4L * ((2 * DH + 2 * LK + 8) * 32 + H * LQ));
    double *times = malloc(sizeof(double) * runs);
    srand(1);
    for (long i = 0; i < nq; ++i) q[i] = rand() / (float)RAND_MAX - 0.5f, o[i] = 0.3f * q[i];
    for (long i = 0; i < nk; ++i) k[i] = rand() / (float)RAND_MAX - 0.5f, v[i] = rand() / (float)RAND_MAX - 0.5f;
    int len[256];
    long keys = 0;
    for (int b = 0; b < B; ++b) keys += len[b] = b % 17 == 0 ? 0 : 1 + rand() % LK;
    for (int it = 0; it < runs; ++it) {
        const double t0 = now();
        for (int b = 0; b < B; ++b) {
            // As AttentionFastPath: the next sample's rows go to the kernel, which prefetches them
            // a share at a time.
            armmt_prefetch_rows next[7];
            long nextCount = 0;
            if (b + 1 < B) {
                const long nb = b + 1;
                next[nextCount++] = (armmt_prefetch_rows){k + nb * LK * W, len[nb], W, W, 0};
                next[nextCount++] = (armmt_prefetch_rows){v + nb * LK * W, len[nb], W, W, 0};
                next[nextCount++] = (armmt_prefetch_rows){q + nb * LQ * W, LQ, W, W, 0};
                if (backward) {
                    next[nextCount++] = (armmt_prefetch_rows){o + nb * LQ * W, LQ, W, W, 0};
                    next[nextCount++] = (armmt_prefetch_rows){dq + nb * LQ * W, LQ, W, W, 1};
                    next[nextCount++] = (armmt_prefetch_rows){dk + nb * LK * W, LK, W, W, 1};
                    next[nextCount++] = (armmt_prefetch_rows){dv + nb * LK * W, LK, W, W, 1};
                } else {
                    next[nextCount++] = (armmt_prefetch_rows){o + nb * LQ * W, LQ, W, W, 1};
                }
            }
            if (!len[b]) continue;
            const long bb = hot ? b % 2 : b, qo = bb * LQ * W, ko = bb * LK * W;
            if (backward)
                armmt_avx512_attention_backward(LQ, len[b], H, DH, 0.25f, q + qo, W, o + qo, W, k + ko, W, DH, v + ko, W, DH,
                                                lse + (long)b * H * LQ, dq + qo, W, dk + ko, W, dv + ko, W, work, next, nextCount);
            else
                armmt_avx512_attention_forward(LQ, len[b], H, DH, 0.25f, q + qo, W, k + ko, W, DH, v + ko, W, DH, o + qo, W,
                                               lse + (long)b * H * LQ, work, next, nextCount);
        }
        times[it] = now() - t0;
    }
    qsort(times, runs, sizeof(double), byTime);
    const double flops = (backward ? 10.0 : 4.0) * H * LQ * keys * DH;
    printf("%s Lk=%d, 1 thread: median %.1f us, min %.1f us, %.1f GFLOP/s at the median\n", backward ? "backward" : "forward",
           LK, times[runs / 2] * 1e6, times[0] * 1e6, flops / times[runs / 2] * 1e-9);
    return 0;
}
