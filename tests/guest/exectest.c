/*
 * exectest: exec replaces the address space. A process fills memory at a
 * fixed address with a pattern and execs itself; the new image maps the
 * same address and must see zeros, not the old pattern, each generation.
 * Usage: exectest [generation]. Prints one result line at the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ADDR ((void *)0x30000000)
#define LEN (64 * 4096)
#define GENERATIONS 12

int main(int argc, char **argv)
{
    int gen = argc > 1 ? atoi(argv[1]) : 0;
    uint8_t *p = mmap(ADDR, LEN, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    uint32_t stale = 0, i;
    char next[16];

    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (i = 0; i < LEN; i += 512) {
        stale += p[i] != 0;  /* a fresh image sees only zeros */
        p[i] = (uint8_t)(gen + 1);
    }
    if (stale) {
        printf("@@HSPT result exectest generation=%d stale_bytes=%u\n", gen, stale);
        return 1;
    }
    if (gen + 1 < GENERATIONS) {
        snprintf(next, sizeof(next), "%d", gen + 1);
        execl("/proc/self/exe", argv[0], next, (char *)NULL);
        perror("exec");
        return 1;
    }
    printf("@@HSPT result exectest generations=%d stale_bytes=0\n", GENERATIONS);
    return 0;
}
