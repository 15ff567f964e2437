// The AVX-512 attention kernels alone, without Swift, at the bench's behaviour shape (Lq = 32,
// Lk = 50, H = 4, dh = 16; each request keeps a random prefix of its keys, every 17th none),
// called per sample as AttentionFastPath calls them, with the next sample's rows prefetched.
// Samples go to 1 or 2 threads in 32 chunks taken from a shared counter (a spinning pool, so
// no wake-up is timed). Prints the fastest and median of `reps` passes over the batch, and a
// checksum; with a file name it also writes O and lse (and dQ, dK, dV) so two builds can be
// compared bit for bit with cmp. Not part of the build:
//   clang -O2 -ffp-contract=off -pthread -ISources/CAVX512/include scripts/experiments/attention_bench.c \
//       Sources/CAVX512/attention.c Sources/CAVX512/softmax.c Sources/CAVX512/gemm.c -lm -o /tmp/ab
//   /tmp/ab fwd 2            # forward, 2 threads, B = 256
//   /tmp/ab bwd 1 2048       # backward, 1 thread, B = 2048 (operands from DRAM)
//   /tmp/ab bwd 1 256 out.bin
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "CAVX512.h"

enum { LQ = 32, LK = 50, H = 4, DH = 16, W = H * DH, CHUNKS = 32, REPS = 300 };

static long batch = 256, *keys;
static float *q, *k, *v, *o, *lse, *dO, *dQ, *dK, *dV, *work[2];
static int backward;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *randoms(long n) {
    float *x = aligned_alloc(64, 4 * n);
    for (long i = 0; i < n; ++i) x[i] = 2 * (rand() / (float)RAND_MAX) - 1;
    return x;
}

static armmt_prefetch_rows rows(const float *base, long count, int write) {
    return (armmt_prefetch_rows){base, count, W, W, write};
}

static void samples(long b0, long b1, float *scratch) {
    const float scale = 1 / sqrtf(DH);
    for (long b = b0; b < b1; ++b) {
        const long n = keys[b], nb = b + 1;
        if (n == 0) continue;
        armmt_prefetch_rows next[7];
        long count = 0;
        if (nb < batch) {
            next[count++] = rows(k + nb * LK * W, keys[nb], 0);
            next[count++] = rows(v + nb * LK * W, keys[nb], 0);
            next[count++] = rows(q + nb * LQ * W, LQ, 0);
            if (backward) {
                next[count++] = rows(dO + nb * LQ * W, LQ, 0);
                next[count++] = rows(dQ + nb * LQ * W, LQ, 1);
                next[count++] = rows(dK + nb * LK * W, LK, 1);
                next[count++] = rows(dV + nb * LK * W, LK, 1);
            } else {
                next[count++] = rows(o + nb * LQ * W, LQ, 1);
            }
        }
        if (!backward) {
            armmt_avx512_attention_forward(LQ, n, H, DH, scale, q + b * LQ * W, W, k + b * LK * W, W, DH,
                                           v + b * LK * W, W, DH, o + b * LQ * W, W, lse + b * H * LQ, scratch, next,
                                           count);
            continue;
        }
        armmt_avx512_attention_backward(LQ, n, H, DH, scale, q + b * LQ * W, W, dO + b * LQ * W, W, k + b * LK * W,
                                        W, DH, v + b * LK * W, W, DH, lse + b * H * LQ, dQ + b * LQ * W, W,
                                        dK + b * LK * W, W, dV + b * LK * W, W, scratch, next, count);
        // The masked keys' rows, as AttentionFastPath.backward zeroes them.
        memset(dK + (b * LK + n) * W, 0, 4 * (LK - n) * W);
        memset(dV + (b * LK + n) * W, 0, 4 * (LK - n) * W);
    }
}

static atomic_long nextChunk, generation, finished;

static void takeChunks(int id) {
    for (long c; (c = atomic_fetch_add(&nextChunk, 1)) < CHUNKS;)
        samples(batch * c / CHUNKS, batch * (c + 1) / CHUNKS, work[id]);
}

static void *helper(void *unused) {
    for (long seen = 0;;) {
        long g;
        while ((g = atomic_load(&generation)) == seen) __builtin_ia32_pause();
        seen = g;
        takeChunks(1);
        atomic_fetch_add(&finished, 1);
    }
    return 0;
}

static void pass(int threads) {
    if (threads == 1) {
        samples(0, batch, work[0]);
        return;
    }
    atomic_store(&nextChunk, 0);
    atomic_store(&finished, 0);
    atomic_fetch_add(&generation, 1);
    takeChunks(0);
    while (atomic_load(&finished) == 0) __builtin_ia32_pause();
}

static int ascending(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "fwd") && strcmp(argv[1], "bwd"))) {
        fprintf(stderr, "usage: %s fwd|bwd [threads 1|2] [batch] [output file]\n", argv[0]);
        return 2;
    }
    const int threads = argc > 2 ? atoi(argv[2]) : 1;
    if (argc > 3) batch = atol(argv[3]);
    if ((threads != 1 && threads != 2) || batch < 1) {
        fprintf(stderr, "threads must be 1 or 2 and batch at least 1\n");
        return 2;
    }
    srand(11);
    q = randoms(batch * LQ * W), k = randoms(batch * LK * W), v = randoms(batch * LK * W);
    dO = randoms(batch * LQ * W);
    o = aligned_alloc(64, 4 * batch * LQ * W), lse = aligned_alloc(64, 4 * batch * H * LQ);
    dQ = aligned_alloc(64, 4 * batch * LQ * W), dK = aligned_alloc(64, 4 * batch * LK * W);
    dV = aligned_alloc(64, 4 * batch * LK * W);
    for (int i = 0; i < 2; ++i) work[i] = aligned_alloc(64, 4 * ((2 * DH + 2 * 52 + 3) * 32 + H * LQ + 64));
    keys = malloc(sizeof(long) * batch);
    double flops = 0;
    for (long b = 0; b < batch; ++b) {
        keys[b] = b % 17 == 0 ? 0 : 1 + rand() % LK;
        flops += 4.0 * H * LQ * keys[b] * DH;
    }
    pthread_t t;
    if (threads == 2) pthread_create(&t, 0, helper, 0);
    pass(threads);  // O and lse for the backward
    backward = !strcmp(argv[1], "bwd");
    if (backward) flops *= 2.5;  // five products against the forward's two
    double times[REPS];
    for (int r = 0; r < REPS; ++r) {
        const double t0 = now();
        pass(threads);
        times[r] = now() - t0;
    }
    double checksum = 0;
    for (long i = 0; i < batch * LQ * W; ++i) checksum += (backward ? dQ[i] : o[i]) * (1 + i % 7);
    if (argc > 4) {
        FILE *f = fopen(argv[4], "wb");
        if (!f) {
            perror(argv[4]);
            return 1;
        }
        fwrite(o, 4, batch * LQ * W, f);
        fwrite(lse, 4, batch * H * LQ, f);
        if (backward) {
            fwrite(dQ, 4, batch * LQ * W, f);
            fwrite(dK, 4, batch * LK * W, f);
            fwrite(dV, 4, batch * LK * W, f);
        }
        fclose(f);
    }
    qsort(times, REPS, sizeof(double), ascending);
    printf("%s B=%ld, %d thread(s): fastest %.1f us (%.1f GFLOP/s), median %.1f us; checksum %.6f\n", argv[1], batch,
           threads, times[0] * 1e6, flops / times[0] * 1e-9, times[REPS / 2] * 1e6, checksum);
    return 0;
}
