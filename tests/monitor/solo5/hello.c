/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5-format test: hello with arguments (and quiet with --solo5:quiet). */
#include "rt.h"

HVT_MFT1_NOTE_DECLARE(1, {.name = "", .type = MFT_RESERVED_FIRST});

int app_main(const char *cmdline)
{
    rt_puts("\n**** Solo5 standalone test_hello ****\n\n");
    rt_puts("Hello, World\nCommand line is: '");
    rt_puts(cmdline);
    rt_puts("'\nSUCCESS\n");
    return RT_EXIT_SUCCESS;
}
