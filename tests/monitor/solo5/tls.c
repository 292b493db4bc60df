/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5-format test: thread-local .tdata/.tbss through %fs (tls), or used without a TLS block,
 * which must fault and abort (notls, built with -DNOTLS). */
#include "rt.h"

HVT_MFT1_NOTE_DECLARE(1, {.name = "", .type = MFT_RESERVED_FIRST});

__thread volatile uint64_t tdata_var = 0x5eed5eedull;
__thread volatile uint32_t tbss_var;
#ifndef NOTLS
static uint8_t block[3 * 4096] __attribute__((aligned(4096)));
#endif

int app_main(const char *cmdline)
{
    (void)cmdline;
    rt_puts("\n**** Solo5 standalone test_");
#ifdef NOTLS
    rt_puts("notls ****\n\n");
    tbss_var = 1; /* FS base is 0: this must fault */
    rt_puts("FAILURE: no fault\n");
    return RT_EXIT_FAILURE;
#else
    rt_puts("tls ****\n\n");
    if (rt_tls_size() > sizeof block)
        return rt_puts("FAILURE: TLS block too large\n"), RT_EXIT_FAILURE;
    rt_set_tls_base(rt_tls_init(block));
    if (tdata_var != 0x5eed5eedull || tbss_var != 0)
        return rt_puts("FAILURE: initial values\n"), RT_EXIT_FAILURE;
    tdata_var = 42;
    tbss_var = 43;
    if (tdata_var != 42 || tbss_var != 43)
        return rt_puts("FAILURE: writes\n"), RT_EXIT_FAILURE;
    rt_puts("SUCCESS\n");
    return RT_EXIT_SUCCESS;
#endif
}
