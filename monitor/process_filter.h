/* SPDX-License-Identifier: Apache-2.0 */
/* The process backend's seccomp policy, shared by the library and its build-time generator. */
#ifndef FUNK_MONITOR_PROCESS_FILTER_H
#define FUNK_MONITOR_PROCESS_FILTER_H

#include <seccomp.h>

#include "chan.h" /* the fixed fds: CHAN_FD, then attached device i at DEV_FD0 + i */

/*
 * The child's filter (default action TRAP -> reported as a sandbox violation): what the
 * hypercall modules need, on the fds they own. layout has one character per manifest entry:
 * 'b' block, 'n' net, '-' not attached; then 'a' when the ACCEL agent connection is at the next
 * fd, 'T' for a snapshot template, 'I' for in-process ACCEL plugins. Returns NULL on failure.
 */
scmp_filter_ctx vm_process_filter(const char *layout);

#endif /* FUNK_MONITOR_PROCESS_FILTER_H */
