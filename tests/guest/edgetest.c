/*
 * edgetest: accesses at the edges. Unaligned loads and stores, inside a
 * page and across a page boundary (into a page not yet touched, and into
 * an inaccessible page: a guest fault at the right address); the kuser
 * helper page near the top of the 4 GiB space; a load across the top of
 * the address space; a store to a read-only page; a load from NULL.
 * Every fault is caught and reported with its address.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static sigjmp_buf jb;
static uintptr_t base;  /* fault addresses in the test buffer print relative */
static volatile uintptr_t fault_addr;
static volatile int fault_sig;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    fault_sig = sig;
    fault_addr = (uintptr_t)si->si_addr;
    siglongjmp(jb, 1);
}

#define TRY(desc, expr)                                                     \
    do {                                                                    \
        fault_sig = 0;                                                      \
        fault_addr = 0;                                                     \
        if (!sigsetjmp(jb, 1)) {                                            \
            uint32_t v_ = (expr);                                           \
            printf("@@HSPT result edgetest %s value=%08x\n", desc, v_);     \
        } else {                                                            \
            uintptr_t a_ = fault_addr - base;                               \
            printf("@@HSPT result edgetest %s signal=%d %s=%08lx\n",       \
                   desc, fault_sig, a_ < 3 * 4096 ? "offset" : "addr",      \
                   (unsigned long)(a_ < 3 * 4096 ? a_ : fault_addr));       \
        }                                                                   \
    } while (0)

static uint32_t load32(uintptr_t a) { return *(volatile uint32_t *)a; }
static uint32_t load16(uintptr_t a) { return *(volatile uint16_t *)a; }
static uint32_t store32(uintptr_t a, uint32_t v)
{
    *(volatile uint32_t *)a = v;
    return *(volatile uint32_t *)a;
}
static uint32_t load64lo(uintptr_t a)
{
    uint64_t v;
    /* LDRD wants word alignment: unaligned ones trap (and may be fixed up) */
    __asm__ volatile("ldrd %0, %H0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return (uint32_t)v ^ (uint32_t)(v >> 32);
}

int main(void)
{
    struct sigaction sa;
    uint8_t *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uintptr_t b = (uintptr_t)p;
    int i;

    base = b;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    for (i = 0; i < 4096; i++) {
        p[i] = (uint8_t)(i * 13 + 7);
    }
    /* page 2 left untouched (zero-fill on first access), page 3 no access */
    mprotect(p + 2 * 4096, 4096, PROT_NONE);

    TRY("unaligned_load", load32(b + 1) ^ load16(b + 4093));
    TRY("unaligned_store", store32(b + 2001, 0x12345678u) ^ load32(b + 2000));
    TRY("cross_page_load", load32(b + 4094));
    TRY("cross_page_store", store32(b + 4093, 0xa5a5a5a5u) ^ load32(b + 4092));
    TRY("cross_into_noaccess", load32(b + 2 * 4096 - 2));
    TRY("store_noaccess", store32(b + 2 * 4096 + 8, 1));
    TRY("ldrd_aligned", load64lo(b + 8));
    TRY("ldrd_unaligned", load64lo(b + 6));
    TRY("kuser_version", load32(0xffff0ffc));
    TRY("kernel_address", load32(0xc0008000));
    TRY("across_the_top", load32(0xfffffffe));
    TRY("null", load32(0));
    mprotect(p, 4096, PROT_READ);
    TRY("store_readonly", store32(b + 16, 2));
    return 0;
}
