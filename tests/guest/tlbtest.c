/*
 * tlbtest: address-space changes whose effects a guest must see exactly,
 * with or without HSPT: munmap then access (must fault), mprotect to
 * read-only then write (must fault), copy-on-write after fork (parent and
 * children see their own data). Each makes the guest kernel issue TLB
 * maintenance. Prints one result line; exits non-zero on any surprise.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PAGES 64
#define CHILDREN 8

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t faults;

static void on_segv(int sig)
{
    (void)sig;
    faults++;
    siglongjmp(fault_jmp, 1);
}

static uint32_t checksum(const volatile uint8_t *p, size_t len)
{
    uint32_t s = 0;
    size_t i;

    for (i = 0; i < len; i += 64) {
        s = s * 33 + p[i];
    }
    return s;
}

/* 1 if writing (or reading) *p faults. */
static int faults_on(volatile uint8_t *p, int write)
{
    if (sigsetjmp(fault_jmp, 1)) {
        return 1;
    }
    if (write) {
        *p = 1;
    } else {
        (void)*p;
    }
    return 0;
}

int main(void)
{
    struct sigaction sa;
    uint8_t *buf;
    uint32_t sum = 0;
    int round, i, munmap_faults = 0, mprotect_faults = 0, cow_ok = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, NULL);

    /* munmap: the pages must be gone, every round. */
    for (round = 0; round < 16; round++) {
        buf = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        for (i = 0; i < PAGES * PAGE; i += 64) {
            buf[i] = (uint8_t)(i / 64 + round);
        }
        sum += checksum(buf, PAGES * PAGE);
        munmap(buf, PAGES * PAGE);
        munmap_faults += faults_on(buf + (round % PAGES) * PAGE, round & 1);
    }

    /* mprotect: read-only pages refuse writes but keep their data. */
    buf = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(buf, 0x5a, PAGES * PAGE);
    for (round = 0; round < 8; round++) {
        mprotect(buf, PAGES * PAGE, PROT_READ);
        mprotect_faults += faults_on(buf + round * 5 * PAGE, 1);
        sum += checksum(buf, PAGES * PAGE);
        mprotect(buf, PAGES * PAGE, PROT_READ | PROT_WRITE);
        buf[round * 5 * PAGE] = (uint8_t)round;
    }

    /* fork: every child writes its own value over shared pages (COW). */
    memset(buf, 0x11, PAGES * PAGE);
    for (i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            int j, ok = 1;
            memset(buf, 0x20 + i, PAGES * PAGE);
            for (j = 0; j < PAGES * PAGE; j += PAGE) {
                ok &= buf[j] == 0x20 + i;
            }
            _exit(ok ? 0 : 1);
        }
        if (pid < 0) {
            perror("fork");
            return 1;
        }
    }
    for (i = 0; i < CHILDREN; i++) {
        int status;
        if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            cow_ok++;
        }
    }
    for (i = 0; i < PAGES * PAGE; i += PAGE) {
        cow_ok += buf[i] != 0x11 ? 1000 : 0; /* parent's data must be intact */
    }
    sum += checksum(buf, PAGES * PAGE);

    printf("@@HSPT result tlbtest munmap_faults=%d mprotect_faults=%d "
           "cow_children_ok=%d sum=%08x\n",
           munmap_faults, mprotect_faults, cow_ok, sum);
    return munmap_faults == 16 && mprotect_faults == 8 && cow_ok == CHILDREN
           ? 0 : 1;
}
