/* SPDX-License-Identifier: Apache-2.0 */
/* Seccomp rules the ACCEL hypercall needs (hc_accel_filter.c). */
#ifndef FUNK_MONITOR_HC_ACCEL_FILTER_H
#define FUNK_MONITOR_HC_ACCEL_FILTER_H

#include <seccomp.h>
#include <stdbool.h>

/* Adds the rules for an agent connection on agent_fd (< 0: none) and/or in-process plugins.
 * Returns 0 or -1. */
int hc_accel_filter_rules(scmp_filter_ctx ctx, int agent_fd, bool inproc);

#endif
