/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5-format test: block device "storage" with the tender's sector size: write, read back and
 * compare the first and last blocks, and an access past the end answers EINVAL. */
#include "rt.h"

HVT_MFT1_NOTE_DECLARE(2, {.name = "", .type = MFT_RESERVED_FIRST},
                      {.name = "storage", .type = MFT_DEV_BLOCK_BASIC});

static uint8_t wbuf[32768] __attribute__((aligned(8)));
static uint8_t rbuf[32768] __attribute__((aligned(8)));

static int io(int write, int h, uint64_t off, void *buf, uint64_t len)
{
    return rt_block_io(write, h, off, buf, len);
}

int app_main(const char *cmdline)
{
    (void)cmdline;
    rt_puts("\n**** Solo5 standalone test_blk ****\n\n");
    const struct mft_entry *e;
    int h = rt_device("storage", MFT_DEV_BLOCK_BASIC, &e);
    if (h < 0)
        return rt_puts("FAILURE: no storage device\n"), RT_EXIT_FAILURE;
    uint64_t bs = e->u.block_basic.block_size, cap = e->u.block_basic.capacity;
    rt_puts("block size ");
    rt_putu(bs);
    rt_puts(", capacity ");
    rt_putu(cap);
    rt_puts("\n");
    if (bs < 512 || bs > sizeof wbuf || cap < bs || cap % bs)
        return rt_puts("FAILURE: geometry\n"), RT_EXIT_FAILURE;
    uint64_t offs[2] = {0, cap - bs};
    for (int k = 0; k < 2; k++) {
        for (uint64_t i = 0; i < bs; i++)
            wbuf[i] = (uint8_t)('A' + (i + (uint64_t)k) % 26);
        if (io(1, h, offs[k], wbuf, bs) != HVT_R_OK)
            return rt_puts("FAILURE: write\n"), RT_EXIT_FAILURE;
        rt_memset(rbuf, 0, bs);
        if (io(0, h, offs[k], rbuf, bs) != HVT_R_OK)
            return rt_puts("FAILURE: read\n"), RT_EXIT_FAILURE;
        for (uint64_t i = 0; i < bs; i++)
            if (rbuf[i] != wbuf[i])
                return rt_puts("FAILURE: data differs\n"), RT_EXIT_FAILURE;
    }
    if (io(1, h, cap, wbuf, bs) != HVT_R_EINVAL || io(0, h, cap - bs, rbuf, 2 * bs) != HVT_R_EINVAL)
        return rt_puts("FAILURE: access past the end accepted\n"), RT_EXIT_FAILURE;
    rt_puts("SUCCESS\n");
    return RT_EXIT_SUCCESS;
}
