/* SPDX-License-Identifier: Apache-2.0 */
/* time.h of the guest libc over the SDK clocks (WALLTIME hypercall, TSC-based monotonic). */
#include <errno.h>
#include <time.h>

#include <funk/guest.h>

time_t time(time_t *t)
{
    time_t s = (time_t)(funk_clock_wall() / 1000000000u);
    if (t)
        *t = s;
    return s;
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    funk_time_t ns;
    if (clk == CLOCK_REALTIME)
        ns = funk_clock_wall();
    else if (clk == CLOCK_MONOTONIC)
        ns = funk_clock_monotonic();
    else {
        errno = EINVAL;
        return -1;
    }
    ts->tv_sec = (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
    return 0;
}
