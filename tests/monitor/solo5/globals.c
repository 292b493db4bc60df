/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5-format test: initialised data, zeroed bss and read-only data hold what they should. */
#include "rt.h"

HVT_MFT1_NOTE_DECLARE(1, {.name = "", .type = MFT_RESERVED_FIRST});

static const char ro[] = "read-only data";
static char data[] = "initialised data";
static uint64_t bss[512];
static volatile uint32_t counter = 0x1234;

int app_main(const char *cmdline)
{
    (void)cmdline;
    rt_puts("\n**** Solo5 standalone test_globals ****\n\n");
    for (unsigned i = 0; i < sizeof bss / sizeof bss[0]; i += 64)
        if (bss[i] != 0)
            return rt_puts("FAILURE: bss not zero\n"), RT_EXIT_FAILURE;
    if (rt_strcmp(ro, "read-only data") != 0 || rt_strcmp(data, "initialised data") != 0 ||
        counter != 0x1234)
        return rt_puts("FAILURE: data\n"), RT_EXIT_FAILURE;
    data[0] = 'I';
    bss[7] = 7;
    counter++;
    if (data[0] != 'I' || bss[7] != 7 || counter != 0x1235)
        return rt_puts("FAILURE: writes\n"), RT_EXIT_FAILURE;
    rt_puts("SUCCESS\n");
    return RT_EXIT_SUCCESS;
}
