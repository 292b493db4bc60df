/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5-format test: wall clock is plausible, a POLL with a timeout sleeps at least that long on
 * the monotonic clock (TSC with the tender's cpu_cycle_freq) and not absurdly longer. */
#include "rt.h"

HVT_MFT1_NOTE_DECLARE(1, {.name = "", .type = MFT_RESERVED_FIRST});

int app_main(const char *cmdline)
{
    (void)cmdline;
    rt_puts("\n**** Solo5 standalone test_time ****\n\n");
    uint64_t wall = rt_walltime_ns();
    if (wall < 1600000000ull * 1000000000ull)
        return rt_puts("FAILURE: wall clock before 2020\n"), RT_EXIT_FAILURE;
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = rt_monotonic_ns();
        rt_poll(100000000ull); /* 100 ms */
        uint64_t t1 = rt_monotonic_ns();
        if (t1 < t0 + 100000000ull)
            return rt_puts("FAILURE: slept too little\n"), RT_EXIT_FAILURE;
        if (t1 > t0 + 5000000000ull)
            return rt_puts("FAILURE: slept too long\n"), RT_EXIT_FAILURE;
    }
    if (rt_walltime_ns() < wall + 300000000ull)
        return rt_puts("FAILURE: wall clock did not advance\n"), RT_EXIT_FAILURE;
    rt_puts("SUCCESS\n");
    return RT_EXIT_SUCCESS;
}
