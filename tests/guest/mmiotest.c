/*
 * mmiotest: device memory from user space. Maps the virt board's fw_cfg
 * registers through /dev/mem, selects the signature item with an MMIO
 * store and reads "QEMU" back with MMIO loads, many times from the same
 * code (which the accelerator must not trap every time).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define FW_CFG_BASE 0x09020000

int main(void)
{
    int fd = open("/dev/mem", O_RDWR | O_SYNC), i, j, good = 0;
    volatile uint8_t *regs;
    char sig[5] = { 0 };

    if (fd < 0) {
        perror("open /dev/mem");
        return 1;
    }
    regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, FW_CFG_BASE);
    if (regs == MAP_FAILED) {
        perror("mmap fw_cfg");
        return 1;
    }
    for (i = 0; i < 500; i++) {
        *(volatile uint16_t *)(regs + 8) = 0;   /* select FW_CFG_SIGNATURE */
        for (j = 0; j < 4; j++) {
            sig[j] = (char)regs[0];
        }
        good += sig[0] == 'Q' && sig[1] == 'E' && sig[2] == 'M' && sig[3] == 'U';
    }
    printf("@@HSPT result mmiotest signature=%s good=%d/500\n", sig, good);
    return good != 500;
}
