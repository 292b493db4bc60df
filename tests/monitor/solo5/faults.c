/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5-format tests that must not return: exception (write far outside memory), zeropage
 * (read of address 0), ssp (stack smashing), xnow (write to .text), abort (for dumpcore). */
#include "rt.h"

HVT_MFT1_NOTE_DECLARE(1, {.name = "", .type = MFT_RESERVED_FIRST});

__attribute__((noinline)) void nothing(void)
{
    __asm__ __volatile__("");
}

static volatile size_t smash_len = 64;

__attribute__((noinline)) static void smash(void)
{
    char buf[16];
    volatile char *p = buf;
    for (size_t i = 0; i < smash_len; i++)
        p[i] = 'x';
}

int app_main(const char *cmdline)
{
    rt_puts("\n**** Solo5 standalone test_");
    rt_puts(cmdline);
    rt_puts(" ****\n\n");
    if (rt_strcmp(cmdline, "exception") == 0) {
        *(volatile uint64_t *)(2ull << 33) = 1;
    } else if (rt_strcmp(cmdline, "zeropage") == 0) {
        volatile uint64_t v = *(volatile uint64_t *)0;
        (void)v;
    } else if (rt_strcmp(cmdline, "ssp") == 0) {
        smash();
    } else if (rt_strcmp(cmdline, "xnow") == 0) {
        /* Code must not be writable: the tender ends this with a translation fault. */
        *(volatile uint64_t *)(uintptr_t)nothing = 1;
    } else if (cmdline[0] == 'e' && cmdline[1] == 'x' && cmdline[2] == 'i' && cmdline[3] == 't' &&
               cmdline[4] == '=') {
        int n = 0; /* solo5_exit(N): the tender exits N */
        for (const char *p = cmdline + 5; *p >= '0' && *p <= '9'; p++)
            n = n * 10 + (*p - '0');
        return n & 0xff;
    } else if (rt_strcmp(cmdline, "abort") == 0) {
        rt_abort("abort requested");
    } else {
        rt_puts("unknown case\n");
        return RT_EXIT_FAILURE;
    }
    rt_puts("FAILURE\n");
    return RT_EXIT_FAILURE;
}
