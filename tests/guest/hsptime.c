/*
 * hsptime NAME CMD [ARGS...]: run CMD, then print
 *   @@HSPT time NAME ms=N
 * (guest CLOCK_MONOTONIC, which follows the host clock without -icount).
 * Exits with CMD's status. Used by the benchmark workloads.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    int status = 0;
    pid_t pid;

    if (argc < 3) {
        fprintf(stderr, "usage: hsptime NAME CMD [ARGS...]\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        perror("hsptime");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* stderr: stdout may be the timed command's output file */
    fprintf(stderr, "@@HSPT time %s ms=%ld\n", argv[1],
           (long)(t1.tv_sec - t0.tv_sec) * 1000 +
           (long)(t1.tv_nsec - t0.tv_nsec) / 1000000);
    fflush(stderr);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
