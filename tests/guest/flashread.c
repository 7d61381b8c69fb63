/*
 * flashread: the virt board's flash from user space. Maps the first page
 * of each flash bank (physical 0 and 64 MiB) through /dev/mem and loads
 * words from them (read-array mode: QEMU serves the loads from a RAM block
 * of the flash device, which is not guest RAM). Prints a few words and a
 * hash of both pages, read several times.
 *
 * For the accelerator: RAM that is not part of the guest-RAM file must go
 * through the softmmu (it cannot be mapped into a window), not stop QEMU.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define FLASH0 0x00000000
#define FLASH1 0x04000000

static volatile uint32_t *map(int fd, off_t phys)
{
    void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, phys);

    if (p == MAP_FAILED) {
        perror("mmap /dev/mem");
        _exit(1);
    }
    return p;
}

int main(void)
{
    int fd = open("/dev/mem", O_RDONLY | O_SYNC), i, round;
    volatile uint32_t *f0, *f1;
    uint32_t h = 2166136261u, first[4];

    if (fd < 0) {
        perror("open /dev/mem");
        return 1;
    }
    f0 = map(fd, FLASH0);
    f1 = map(fd, FLASH1);
    first[0] = f0[0];
    first[1] = f0[1];
    first[2] = f0[1023];
    first[3] = f1[0];
    for (round = 0; round < 4; round++) {
        for (i = 0; i < 1024; i++) {
            h = (h ^ f0[i]) * 16777619u;
            h = (h ^ f1[(i * 7) & 1023]) * 16777619u;
        }
    }
    printf("@@HSPT result flashread f0[0]=%08x f0[1]=%08x f0[1023]=%08x f1[0]=%08x hash=%08x\n",
           first[0], first[1], first[2], first[3], h);
    return 0;
}
