/*
 * memwalk: random pointer walk over MiB mebibytes plus a sequential pass.
 * The memory-heavy single-process kernel of the HSPT tests and benchmarks.
 * Usage: memwalk [MiB [steps]]; prints one result line with a checksum.
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

int main(int argc, char **argv)
{
    uint32_t mib = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 16;
    uint32_t steps = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 4000000;
    uint32_t n = mib * (1024 * 1024 / 4);
    uint32_t *next = malloc((size_t)n * sizeof(*next));
    uint32_t i, at = 0, sum = 0;
    struct timespec t0, t1;

    if (n < 2 || !next) {
        fprintf(stderr, "memwalk: bad size or out of memory\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Sattolo's algorithm: one cycle through all n slots. */
    for (i = 0; i < n; i++) {
        next[i] = i;
    }
    for (i = n - 1; i > 0; i--) {
        uint32_t j = next_random() % i, t = next[i];
        next[i] = next[j];
        next[j] = t;
    }
    for (i = 0; i < steps; i++) {
        at = next[at];
        sum = sum * 31 + at;
    }
    for (i = 0; i < n; i++) {
        sum += next[i] ^ i;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("@@HSPT result memwalk mib=%u steps=%u sum=%08x\n", mib, steps, sum);
    /* Guest clock: for a rough look only; benchmarks time QEMU itself. */
    printf("@@HSPT time memwalk ms=%ld\n",
           (long)(t1.tv_sec - t0.tv_sec) * 1000 +
           (long)(t1.tv_nsec - t0.tv_nsec) / 1000000);
    return 0;
}
