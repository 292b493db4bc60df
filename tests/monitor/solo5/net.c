/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5-format test: net device "service0" (and "service1" with -DNET_2IF). Prints each MTU and
 * MAC, waits for a frame of EtherType 0x88b5 from the host, checks it is MTU + 14 bytes long and
 * answers with a frame of the same size (swapped addresses, EtherType 0x88b6, same payload). */
#include "rt.h"

#ifdef NET_2IF
HVT_MFT1_NOTE_DECLARE(3, {.name = "", .type = MFT_RESERVED_FIRST},
                      {.name = "service0", .type = MFT_DEV_NET_BASIC},
                      {.name = "service1", .type = MFT_DEV_NET_BASIC});
#define NIF 2
#else
HVT_MFT1_NOTE_DECLARE(2, {.name = "", .type = MFT_RESERVED_FIRST},
                      {.name = "service0", .type = MFT_DEV_NET_BASIC});
#define NIF 1
#endif

static uint8_t frame[65536] __attribute__((aligned(8)));

static void put_mac(const uint8_t *m)
{
    static const char hex[] = "0123456789abcdef";
    char s[18];
    for (int i = 0; i < 6; i++) {
        s[i * 3] = hex[m[i] >> 4];
        s[i * 3 + 1] = hex[m[i] & 15];
        s[i * 3 + 2] = i < 5 ? ':' : '\0';
    }
    rt_puts(s);
}

static int serve(const char *name)
{
    const struct mft_entry *e;
    int h = rt_device(name, MFT_DEV_NET_BASIC, &e);
    if (h < 0)
        return rt_puts("FAILURE: device missing\n"), -1;
    uint64_t mtu = e->u.net_basic.mtu, max = mtu + 14;
    rt_puts(name);
    rt_puts(": MTU is ");
    rt_putu(mtu);
    rt_puts(", MAC is ");
    put_mac(e->u.net_basic.mac);
    rt_puts("\n");
    uint64_t deadline = rt_walltime_ns() + 20000000000ull;
    while (rt_walltime_ns() < deadline) {
        rt_poll(100000000ull);
        uint64_t got = 0;
        if (rt_net_read(h, frame, max, &got) != HVT_R_OK || got < 14 || frame[12] != 0x88 ||
            frame[13] != 0xb5)
            continue;
        rt_puts(name);
        rt_puts(": got a frame of ");
        rt_putu(got);
        rt_puts(" bytes\n");
        if (got != max)
            return rt_puts("FAILURE: frame is not MTU + 14 bytes\n"), -1;
        uint8_t tmp[6];
        rt_memcpy(tmp, frame, 6);
        rt_memcpy(frame, frame + 6, 6);
        rt_memcpy(frame + 6, e->u.net_basic.mac, 6);
        (void)tmp;
        frame[13] = 0xb6;
        if (rt_net_write(h, frame, max) != HVT_R_OK)
            return rt_puts("FAILURE: net write\n"), -1;
        /* One byte more than MTU + 14 must be refused. */
        if (rt_net_write(h, frame, max + 1) != HVT_R_EINVAL)
            return rt_puts("FAILURE: oversized frame accepted\n"), -1;
        return 0;
    }
    return rt_puts("FAILURE: no frame from the host\n"), -1;
}

int app_main(const char *cmdline)
{
    (void)cmdline;
    rt_puts("\n**** Solo5 standalone test_net ****\n\n");
    static const char *const names[2] = {"service0", "service1"};
    for (int i = 0; i < NIF; i++)
        if (serve(names[i]) != 0)
            return RT_EXIT_FAILURE;
    rt_puts("SUCCESS\n");
    return RT_EXIT_SUCCESS;
}
