/*
 * jittest: self-modifying code. Writes ARM instructions into a buffer,
 * runs them, rewrites them, runs them again, many times; also stores data
 * next to the running code on the same page. Every result must reflect
 * the latest code.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

typedef uint32_t (*fn_t)(uint32_t);

/* movw r1, #imm16 ; add r0, r0, r1 ; bx lr */
static void emit(uint32_t *code, uint32_t imm)
{
    code[0] = 0xe3001000u | ((imm & 0xf000u) << 4) | (imm & 0xfffu);
    code[1] = 0xe0800001u;
    code[2] = 0xe12fff1eu;
    __builtin___clear_cache((char *)code, (char *)(code + 3));
}

int main(void)
{
    uint32_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint32_t sum = 0, wrong = 0, i;
    volatile uint32_t *data = page + 512;   /* same page as the code */

    if (page == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (i = 0; i < 2000; i++) {
        uint32_t imm = (i * 7919u) & 0xffffu, r;

        emit(page, imm);
        r = ((fn_t)page)(i);
        wrong += r != i + imm;
        data[i % 64] = r;            /* data store on the code's page */
        sum = sum * 31 + r + data[(i + 1) % 64];
    }
    printf("@@HSPT result jittest rewrites=2000 wrong=%u sum=%08x\n", wrong, sum);
    return wrong != 0;
}
