/*
 * jitalias: a double-mapped JIT. One memfd page is mapped executable
 * (PROT_READ|PROT_EXEC) at one address and writable at several others
 * over the program's life: six writable aliases live at a time, one of
 * them replaced every round by a new mapping at an address never used
 * before (munmap, then mmap). Every round: new code (movw r0, #imm ;
 * bx lr) through one alias, a store through every alias (data words on
 * the code's page), the replacement, a call through the executable
 * alias; then the code is rewritten through each alias in turn, each time
 * followed by a call. 200 rounds, 1400 calls; every call must return the
 * immediate written just before it.
 *
 * For the accelerator: more than four writable mappings of one RAM page
 * are alive at once, and the mapping of an alias that was unmapped must be
 * forgotten safely (its place reused); a writable mapping that the
 * code-page protection misses lets a rewrite bypass QEMU, and the stale
 * translated code runs (wrong > 0).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define NALIAS 6
#define ROUNDS 200
#define SPARE 512           /* pages reserved for alias addresses */
#define PAGE 4096

typedef uint32_t (*fn_t)(void);

static int fd;
static char *area;          /* reserved addresses for the aliases */
static unsigned next_page;  /* next never-used page of the area */

static volatile uint32_t *new_alias(void)
{
    void *p;

    if (next_page >= SPARE) {
        fprintf(stderr, "jitalias: out of alias addresses\n");
        _exit(1);
    }
    p = mmap(area + (size_t)next_page++ * PAGE, PAGE, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap alias");
        _exit(1);
    }
    return p;
}

/* The immediate of call number n: all different (40503 is odd). */
static uint32_t call_imm(uint32_t n)
{
    return n * 40503u & 0xffffu;
}

/* movw r0, #imm16 ; bx lr */
static void emit(volatile uint32_t *w, uint32_t imm)
{
    w[0] = 0xe3000000u | ((imm & 0xf000u) << 4) | (imm & 0xfffu);
    w[1] = 0xe12fff1eu;
}

/* Calls the code through the executable alias x: it must return the
 * immediate of this call, written through alias w just before. */
static void check(volatile uint32_t *w, uint32_t *x, uint32_t *calls,
                  uint32_t *wrong, uint32_t *sum)
{
    uint32_t imm = call_imm(*calls), got;

    __builtin___clear_cache((char *)w, (char *)(w + 2));
    __builtin___clear_cache((char *)x, (char *)(x + 2));
    got = ((fn_t)x)();
    *wrong += got != imm;
    *sum = *sum * 31 + got;
    ++*calls;
}

int main(void)
{
    volatile uint32_t *al[NALIAS];
    uint32_t *x;
    uint32_t sum = 0, wrong = 0, calls = 0, r, i, p;

    fd = memfd_create("jitalias", 0);
    if (fd < 0 || ftruncate(fd, PAGE) != 0) {
        perror("memfd");
        return 1;
    }
    x = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    area = mmap(NULL, (size_t)SPARE * PAGE, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (x == MAP_FAILED || area == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (i = 0; i < NALIAS; i++) {
        al[i] = new_alias();
        al[i][512 + i] = i;
    }
    for (r = 0; r < ROUNDS; r++) {
        uint32_t first = r % NALIAS, second = first == 0 ? 1 : 0;

        /*
         * New code through one alias: the old translation is gone, so the
         * page may be written through every alias again. Then a store
         * through each alias (data words on the code's page): six
         * writable mappings of the page at once, in the order first,
         * 0, 1, ... Then the second of them is replaced by a new mapping
         * at a new address (written too), and the new code is called.
         */
        emit(al[first], call_imm(calls));
        for (p = 0; p < 2; p++) {
            for (i = 0; i < NALIAS; i++) {
                al[i][512 + i] += r + p;
            }
        }
        if (munmap((void *)al[second], PAGE) != 0) {
            perror("munmap");
            return 1;
        }
        al[second] = new_alias();
        al[second][512 + second] += 1;
        check(al[first], x, &calls, &wrong, &sum);
        /* Rewrite and call, once through each alias. */
        for (i = 0; i < NALIAS; i++) {
            volatile uint32_t *w = al[(i + r) % NALIAS];

            emit(w, call_imm(calls));
            check(w, x, &calls, &wrong, &sum);
        }
    }
    for (i = 0; i < NALIAS; i++) {
        sum = sum * 31 + al[0][512 + i];
    }
    printf("@@HSPT result jitalias calls=%u aliases=%u wrong=%u sum=%08x\n",
           calls, next_page, wrong, sum);
    return wrong != 0;
}
