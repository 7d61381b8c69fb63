/*
 * memwalk: random pointer walk over MiB mebibytes plus a sequential pass.
 * The memory-heavy single-process kernel of the HSPT tests and benchmarks.
 * Usage: memwalk [MiB [steps]]; prints one result line with a checksum.
 *
 * The time line covers what the benchmark is about, the walk and the pass;
 * building the random cycle first (first touch of every page, a shuffle)
 * is set-up, reported on the phases line only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint32_t rng = 0x12345678u;

static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static long elapsed_ms(struct timespec a, struct timespec b)
{
    return (long)(b.tv_sec - a.tv_sec) * 1000 +
           (long)(b.tv_nsec - a.tv_nsec) / 1000000;
}

int main(int argc, char **argv)
{
    uint32_t mib = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 16;
    uint32_t steps = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 4000000;
    uint32_t n = mib * (1024 * 1024 / 4);
    uint32_t *next = malloc((size_t)n * sizeof(*next));
    uint32_t i, at = 0, sum = 0;
    struct timespec t0, t1, t2, t3;

    if (n < 2 || !next) {
        fprintf(stderr, "memwalk: bad size or out of memory\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /*
     * Sattolo's algorithm: one cycle through all n slots. j in [0, i) by
     * multiply-shift: no division, which 32-bit ARM does in software.
     */
    for (i = 0; i < n; i++) {
        next[i] = i;
    }
    for (i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(((uint64_t)next_random() * i) >> 32);
        uint32_t t = next[i];
        next[i] = next[j];
        next[j] = t;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (i = 0; i < steps; i++) {
        at = next[at];
        sum = sum * 31 + at;
    }
    clock_gettime(CLOCK_MONOTONIC, &t2);
    for (i = 0; i < n; i++) {
        sum += next[i] ^ i;
    }
    clock_gettime(CLOCK_MONOTONIC, &t3);
    printf("@@HSPT result memwalk mib=%u steps=%u sum=%08x\n", mib, steps, sum);
    /* Guest clock (QEMU's virtual clock follows the host's without icount). */
    printf("@@HSPT time memwalk ms=%ld\n", elapsed_ms(t1, t3));
    printf("@@HSPT phases memwalk setup_ms=%ld walk_ms=%ld pass_ms=%ld\n",
           elapsed_ms(t0, t1), elapsed_ms(t1, t2), elapsed_ms(t2, t3));
    return 0;
}
