/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: wall clock is plausible, monotonic clock advances, yield honours a deadline. */
#include <stdio.h>

#include <funk/guest.h>

int main(void)
{
    funk_time_t wall = funk_clock_wall();
    /* 2020-01-01 .. 2100-01-01 in ns */
    if (wall < 1577836800ull * 1000000000ull || wall > 4102444800ull * 1000000000ull) {
        printf("time: FAIL wall clock %llu\n", (unsigned long long)wall);
        return 1;
    }
    funk_time_t t0 = funk_clock_monotonic();
    funk_time_t deadline = t0 + 5000000; /* 5 ms */
    uint64_t ready = 0;
    while (funk_clock_monotonic() < deadline)
        funk_yield(deadline, &ready);
    funk_time_t t1 = funk_clock_monotonic();
    if (t1 <= t0 || t1 - t0 < 5000000) {
        printf("time: FAIL monotonic %llu -> %llu\n", (unsigned long long)t0,
               (unsigned long long)t1);
        return 1;
    }
    printf("time: OK slept %llu us\n", (unsigned long long)(t1 - t0) / 1000);
    return 0;
}
