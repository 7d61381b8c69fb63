/*
 * forkmany: more than 256 processes alive at once (ASID rollover in the
 * guest kernel). Each child writes its own pattern into a private copy of
 * a shared-before-fork buffer, waits until all are alive, then checks it
 * and exits. Usage: forkmany [N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 4

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 300, i, ok = 0, go[2], ready[2];
    static uint8_t buf[PAGES * 4096];
    char c;

    memset(buf, 0xab, sizeof(buf));
    if (pipe(go) || pipe(ready)) {
        perror("pipe");
        return 1;
    }
    for (i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            int j, good = 1;
            close(go[1]);
            memset(buf, i & 0xff, sizeof(buf));
            if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 0) {
                _exit(2);          /* read returns 0 once the parent closes */
            }
            for (j = 0; j < (int)sizeof(buf); j += 64) {
                good &= buf[j] == (uint8_t)(i & 0xff);
            }
            _exit(good ? 0 : 1);
        }
    }
    for (i = 0; i < n; i++) {          /* all children alive at once */
        if (read(ready[0], &c, 1) != 1) {
            perror("read");
            return 1;
        }
    }
    close(go[1]);
    for (i = 0; i < n; i++) {
        int status;
        if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            ok++;
        }
    }
    for (i = 0; i < (int)sizeof(buf); i += 64) {
        ok += buf[i] != 0xab ? 100000 : 0;
    }
    printf("@@HSPT result forkmany children=%d ok=%d\n", n, ok);
    return ok == n ? 0 : 1;
}
