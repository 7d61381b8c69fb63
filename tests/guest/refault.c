/*
 * refault: a process that keeps touching the same memory while every fork
 * makes the guest kernel flush the whole TLB (Debian's armmp kernel uses
 * TLBIALLIS for that), so HSPT windows are emptied and refilled again and
 * again: the fault path, fault-around and the flush path, with a checksum.
 * Usage: refault [pages [rounds]]; prints one result line and the time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long elapsed_us(struct timespec a, struct timespec b)
{
    return (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
}

int main(int argc, char **argv)
{
    int pages = argc > 1 ? atoi(argv[1]) : 4096;
    int rounds = argc > 2 ? atoi(argv[2]) : 10;
    uint32_t *mem = malloc((size_t)pages * 4096), sum = 0;
    long touch_us = 0;
    int i, r;

    if (pages < 1 || rounds < 1 || !mem) {
        fprintf(stderr, "refault: bad arguments or out of memory\n");
        return 1;
    }
    for (i = 0; i < pages; i++) {
        mem[i * 1024] = (uint32_t)i * 2654435761u;
    }
    for (r = 0; r < rounds; r++) {
        struct timespec t0, t1;
        pid_t pid = fork();

        if (pid == 0) {
            _exit(0);
        }
        if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (i = 0; i < pages; i++) {       /* every page, once per round */
            sum = sum * 31 + mem[i * 1024 + (r & 1023)];
            mem[i * 1024 + ((r + 1) & 1023)] = sum;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        touch_us += elapsed_us(t0, t1);
    }
    printf("@@HSPT result refault pages=%d rounds=%d sum=%08x\n", pages, rounds, sum);
    printf("@@HSPT time refault ms=%ld\n", touch_us / 1000);
    return 0;
}
