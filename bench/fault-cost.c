/*
 * fault-cost: what a window fault costs on this host, outside QEMU.
 *
 * A 4 GiB PROT_NONE reservation stands for a window and a memfd for guest
 * RAM. Measures, per page, over random pages:
 *   fault+mmap    touch an unmapped page; the SIGSEGV handler mmaps the
 *                 memfd page there (MAP_SHARED|MAP_FIXED) and returns
 *   mmap+touch    the same mmap and touch without any signal
 *   unmap         turning a mapped page back into PROT_NONE reservation
 *   signal        a plain signal round trip (kill + empty handler)
 * fault+mmap minus mmap+touch is the trap and signal delivery, the part of
 * a window fault the plugin's own clock does not see.
 *
 * Build and run:  gcc -O2 -o /tmp/fault-cost bench/fault-cost.c && /tmp/fault-cost
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE (64L << 20)
#define N 20000

static char *window;
static int ram_fd;

static void on_sigsegv(int sig, siginfo_t *si, void *uc)
{
    char *page = (char *)((unsigned long)si->si_addr & ~4095UL);

    (void)sig;
    (void)uc;
    if (mmap(page, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram_fd,
             (page - window) % RAM_SIZE) == MAP_FAILED) {
        static const char msg[] = "fault-cost: mmap failed in the handler\n";
        if (write(2, msg, sizeof(msg) - 1) < 0) {
            /* nothing more to say */
        }
        _exit(1);
    }
}

/* Back to an empty window (each isolated page costs 2 VMAs). */
static void reset_window(void)
{
    mmap(window, 1UL << 32, PROT_NONE,
         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

static void on_sigusr1(int sig)
{
    (void)sig;
}

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* The i-th of N distinct random-looking pages of region r (0 or 1) of the window. */
static char *page(long i, long r)
{
    return window + ((i * 7919 % 500000) + r * 500000) * 4096L;
}

int main(void)
{
    struct sigaction sa = { 0 };
    volatile char sink = 0;
    double t0, fault, maptouch, unmap, sig;
    long i;

    ram_fd = memfd_create("guest-ram", 0);
    if (ram_fd < 0 || ftruncate(ram_fd, RAM_SIZE) != 0) {
        perror("memfd");
        return 1;
    }
    for (i = 0; i < RAM_SIZE; i += 4096) {      /* RAM present, as a guest's */
        if (pwrite(ram_fd, "x", 1, i) != 1) {
            perror("pwrite");
            return 1;
        }
    }
    window = mmap(NULL, 1UL << 32, PROT_NONE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (window == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    sa.sa_sigaction = on_sigsegv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    signal(SIGUSR1, on_sigusr1);

    t0 = now();
    for (i = 0; i < N; i++) {
        sink += *page(i, 0);
    }
    fault = (now() - t0) / N;
    reset_window();
    t0 = now();
    for (i = 0; i < N; i++) {
        char *p = page(i, 1);

        if (mmap(p, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, ram_fd,
                 (p - window) % RAM_SIZE) == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        sink += *p;
    }
    maptouch = (now() - t0) / N;
    t0 = now();
    for (i = 0; i < N; i++) {
        mmap(page(i, 1), 4096, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    }
    unmap = (now() - t0) / N;
    t0 = now();
    for (i = 0; i < N; i++) {
        kill(getpid(), SIGUSR1);
    }
    sig = (now() - t0) / N;
    printf("fault+mmap %.1f us, mmap+touch %.1f us (trap and signal: %.1f us), "
           "unmap %.1f us, signal round trip %.1f us\n",
           fault * 1e6, maptouch * 1e6, (fault - maptouch) * 1e6, unmap * 1e6,
           sig * 1e6);
    return 0;
}
