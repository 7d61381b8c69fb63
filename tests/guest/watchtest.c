/*
 * watchtest: a hardware watchpoint on a page the watched process has
 * already touched. The child (PTRACE_TRACEME) reads and writes a word of a
 * global page, then stops; the parent sets a write watchpoint on that word
 * (PTRACE_SETHBPREGS, watchpoint 0: address, then control) and lets the
 * child go on. The child then writes the word three times (plain stores),
 * then three times more after reading it (load, then store), stopping
 * itself after each write. Each store must stop the child with SIGTRAP
 * (si_code TRAP_HWBKPT, si_addr the word); the parent then disables the
 * watchpoint, lets the store complete, and arms it again at the next stop.
 *
 * For the accelerator: a page the process can already write through its
 * window must not keep being served by the window once a watchpoint is
 * set on it, and a load must not map a write-watched page writable.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_GETHBPREGS
#define PTRACE_GETHBPREGS 29
#endif
#ifndef PTRACE_SETHBPREGS
#define PTRACE_SETHBPREGS 30
#endif
#ifndef TRAP_HWBKPT
#define TRAP_HWBKPT 4
#endif

#define WRITES 6            /* 3 plain stores, then 3 load-and-store */
#define WORD 100            /* index of the watched word in the page */

static volatile uint32_t page[1024] __attribute__((aligned(4096)));

/* Out of line, so that each kind of access has code of its own. */
__attribute__((noinline)) static void plain_store(uint32_t v)
{
    page[WORD] = v;
}

__attribute__((noinline)) static void load_store(uint32_t v)
{
    page[WORD] = page[WORD] + v;
}

static void child(void)
{
    int i;

    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) {
        perror("PTRACE_TRACEME");
        _exit(2);
    }
    page[WORD] = page[WORD] + 1;        /* touched before the watchpoint */
    page[WORD + 1] = 7;
    raise(SIGSTOP);
    for (i = 0; i < WRITES; i++) {
        if (i < WRITES / 2) {
            plain_store(0x100 + i);
        } else {
            load_store(0x1000);
        }
        raise(SIGSTOP);
    }
    _exit(page[WORD] & 0x7f);
}

static int set_hbp(pid_t pid, long num, uint32_t val)
{
    return (int)ptrace(PTRACE_SETHBPREGS, pid, (void *)num, &val);
}

int main(void)
{
    /* enabled, user, store, 4 bytes: see encode_ctrl_reg() in Linux */
    const uint32_t ctrl = (0xfu << 5) | (2u << 3) | (2u << 1) | 1u;
    int traps[WRITES + 1] = { 0 }, bad_code = 0, bad_addr = 0, bad_errno = 0;
    int stops = 0, events = 0, status, i, wrps, exitcode = -1;
    uint32_t info = 0;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        child();
    }
    for (;;) {
        if (waitpid(pid, &status, 0) != pid) {
            perror("waitpid");
            return 1;
        }
        if (WIFEXITED(status)) {
            exitcode = WEXITSTATUS(status);
            break;
        }
        if (!WIFSTOPPED(status) || ++events > 100) {
            fprintf(stderr, "watchtest: unexpected status %#x after %d events\n", status, events);
            kill(pid, SIGKILL);
            return 1;
        }
        if (WSTOPSIG(status) == SIGSTOP) {
            if (stops == 0) {
                if (ptrace(PTRACE_GETHBPREGS, pid, (void *)0, &info) != 0) {
                    perror("PTRACE_GETHBPREGS");
                    kill(pid, SIGKILL);
                    return 1;
                }
                wrps = (info >> 8) & 0xff;
                if (wrps == 0) {
                    printf("@@HSPT result watchtest watchpoints=none info=%08x\n", info);
                    kill(pid, SIGKILL);
                    waitpid(pid, &status, 0);
                    return 1;
                }
                if (set_hbp(pid, -1, (uint32_t)(uintptr_t)&page[WORD]) != 0) {
                    perror("PTRACE_SETHBPREGS address");
                    kill(pid, SIGKILL);
                    return 1;
                }
            }
            /* Arm (again) before each write. */
            if (set_hbp(pid, -2, ctrl) != 0) {
                perror("PTRACE_SETHBPREGS control");
                kill(pid, SIGKILL);
                return 1;
            }
            stops++;
        } else if (WSTOPSIG(status) == SIGTRAP) {
            siginfo_t si;

            memset(&si, 0, sizeof(si));
            if (ptrace(PTRACE_GETSIGINFO, pid, NULL, &si) != 0) {
                perror("PTRACE_GETSIGINFO");
                kill(pid, SIGKILL);
                return 1;
            }
            if (stops >= 1 && stops <= WRITES) {
                traps[stops]++;
            }
            bad_code += si.si_code != TRAP_HWBKPT;
            bad_addr += (uintptr_t)si.si_addr != (uintptr_t)&page[WORD];
            bad_errno += si.si_errno != -1;  /* the ptrace number of watchpoint 0 */
            /* Let the store complete: disarm until the next stop. */
            if (set_hbp(pid, -2, ctrl & ~1u) != 0) {
                perror("PTRACE_SETHBPREGS disable");
                kill(pid, SIGKILL);
                return 1;
            }
        } else {
            fprintf(stderr, "watchtest: child stopped by signal %d\n", WSTOPSIG(status));
            kill(pid, SIGKILL);
            return 1;
        }
        if (ptrace(PTRACE_CONT, pid, NULL, NULL) != 0) {
            perror("PTRACE_CONT");
            kill(pid, SIGKILL);
            return 1;
        }
    }
    printf("@@HSPT result watchtest brps=%u wrps=%u wplen=%u store-traps=%d,%d,%d load-store-traps=%d,%d,%d",
           info & 0xff, (info >> 8) & 0xff, (info >> 16) & 0xff,
           traps[1], traps[2], traps[3], traps[4], traps[5], traps[6]);
    printf(" bad-code=%d bad-addr=%d bad-errno=%d stops=%d exit=%d\n",
           bad_code, bad_addr, bad_errno, stops, exitcode);
    for (i = 1; i <= WRITES; i++) {
        if (traps[i] != 1) {
            return 1;
        }
    }
    return bad_code || bad_addr || bad_errno || exitcode != ((0x102 + 3 * 0x1000) & 0x7f);
}
