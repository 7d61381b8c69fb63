/*
 * zygote: a fork server in the style of Android's zygote. The parent
 * touches a preloaded heap, then forks CHILDREN long-lived children; they
 * take turns (a token passed round a ring of pipes, so the guest switches
 * address space at every step), each reading the shared preloaded data
 * and writing its own. Prints one checksum. Usage: zygote [children [rounds]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PRELOAD (8u << 20)
#define PRIVATE (256u << 10)

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 16;
    int rounds = argc > 2 ? atoi(argv[2]) : 200;
    uint32_t *preload = malloc(PRELOAD), i, sum = 0;
    int (*ring)[2] = calloc(n + 1, sizeof(*ring)), k, r, res[2];

    if (!preload || !ring || n < 1 || pipe(res)) {
        return 1;
    }
    for (i = 0; i < PRELOAD / 4; i++) {
        preload[i] = i * 2654435761u;
    }
    for (k = 0; k <= n; k++) {
        if (pipe(ring[k])) {
            return 1;
        }
    }
    for (k = 0; k < n; k++) {
        if (fork() == 0) {
            uint32_t *mine = malloc(PRIVATE), acc = (uint32_t)k, x = (uint32_t)k + 1;
            char t;
            memset(mine, k, PRIVATE);
            for (r = 0; r < rounds; r++) {
                if (read(ring[k][0], &t, 1) != 1) {
                    _exit(1);
                }
                for (i = 0; i < 2048; i++) {     /* random reads, own writes */
                    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
                    acc += preload[x % (PRELOAD / 4)];
                    mine[x % (PRIVATE / 4)] += acc;
                }
                if (write(ring[k + 1][1], &t, 1) != 1) {
                    _exit(1);
                }
            }
            for (i = 0; i < PRIVATE / 4; i += 64) {
                acc += mine[i];
            }
            if (write(res[1], &acc, 4) != 4) {
                _exit(1);
            }
            _exit(0);
        }
    }
    for (r = 0; r < rounds; r++) {               /* pass the token round */
        char t = 't';
        if (write(ring[0][1], &t, 1) != 1 || read(ring[n][0], &t, 1) != 1) {
            return 1;
        }
    }
    for (k = 0; k < n; k++) {
        uint32_t acc;
        if (read(res[0], &acc, 4) != 4) {
            return 1;
        }
        sum += acc;                             /* order-independent */
    }
    while (wait(NULL) > 0) {
    }
    printf("@@HSPT result zygote children=%d rounds=%d sum=%08x\n", n, rounds, sum);
    return 0;
}
