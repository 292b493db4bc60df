/* SPDX-License-Identifier: Apache-2.0 */
/* time.h of the guest libc: the wall and monotonic clocks of <funk/guest.h> behind the POSIX
 * calls portable C uses (time, clock_gettime); no time zones (UTC only), no timers. */
#ifndef FUNK_GUEST_TIME_H
#define FUNK_GUEST_TIME_H

#include <sys/types.h>

struct timespec {
    time_t tv_sec;
    long tv_nsec;
};

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1

/* Seconds since the Unix epoch; stored in *t too when t is not NULL. */
time_t time(time_t *t);
/* CLOCK_REALTIME or CLOCK_MONOTONIC: 0; another clock: -1 with errno EINVAL. */
int clock_gettime(clockid_t clk, struct timespec *ts);

#endif
