/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5-format test: a manifest at Solo5's maximum (64 entries: the reserved one and 63 block
 * devices), each attached with --block:storageN=... and seen with its capacity. */
#include "rt.h"

#define DEV(n)                                                                                     \
    {                                                                                              \
        .name = "storage" #n, .type = MFT_DEV_BLOCK_BASIC                                          \
    }
HVT_MFT1_NOTE_DECLARE(64, {.name = "", .type = MFT_RESERVED_FIRST}, DEV(0), DEV(1), DEV(2), DEV(3),
                      DEV(4), DEV(5), DEV(6), DEV(7), DEV(8), DEV(9), DEV(10), DEV(11), DEV(12),
                      DEV(13), DEV(14), DEV(15), DEV(16), DEV(17), DEV(18), DEV(19), DEV(20),
                      DEV(21), DEV(22), DEV(23), DEV(24), DEV(25), DEV(26), DEV(27), DEV(28),
                      DEV(29), DEV(30), DEV(31), DEV(32), DEV(33), DEV(34), DEV(35), DEV(36),
                      DEV(37), DEV(38), DEV(39), DEV(40), DEV(41), DEV(42), DEV(43), DEV(44),
                      DEV(45), DEV(46), DEV(47), DEV(48), DEV(49), DEV(50), DEV(51), DEV(52),
                      DEV(53), DEV(54), DEV(55), DEV(56), DEV(57), DEV(58), DEV(59), DEV(60),
                      DEV(61), DEV(62));

int app_main(const char *cmdline)
{
    (void)cmdline;
    rt_puts("\n**** Solo5 standalone test_mft_maxdevices ****\n\n");
    char name[16] = "storage";
    for (unsigned i = 0; i < 63; i++) {
        unsigned n = 7;
        if (i >= 10)
            name[n++] = (char)('0' + i / 10);
        name[n++] = (char)('0' + i % 10);
        name[n] = '\0';
        const struct mft_entry *e;
        if (rt_device(name, MFT_DEV_BLOCK_BASIC, &e) < 0 || !e->attached ||
            e->u.block_basic.capacity != 4096 || e->u.block_basic.block_size != 512)
            return rt_puts("FAILURE: "), rt_puts(name), rt_puts("\n"), RT_EXIT_FAILURE;
    }
    rt_puts("SUCCESS\n");
    return RT_EXIT_SUCCESS;
}
