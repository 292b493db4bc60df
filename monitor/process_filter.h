/* SPDX-License-Identifier: Apache-2.0 */
/* The process backend's seccomp policy, shared by the library and its build-time generator. */
#ifndef FUNK_MONITOR_PROCESS_FILTER_H
#define FUNK_MONITOR_PROCESS_FILTER_H

#include <seccomp.h>

#include "chan.h" /* the fixed fds: CHAN_FD, then attached device i at DEV_FD0 + i */

/*
 * The child's filter (default action TRAP -> reported as a sandbox violation): what the
 * device modules need, on the fds they own. layout has one character per manifest entry:
 * 'b' block, 'n' net, '-' not attached; then a digit per hypercall-module fd at the next fds
 * (no rules here: the caller adds that module's own, hc_fd_seccomp), 'T' for a snapshot
 * template. Returns NULL on failure.
 */
#include <stdint.h>

struct proc_dev_geo {
    uint64_t capacity; /* block: bytes */
    uint32_t block_size;
};

/* dev: the attached devices (index = manifest index), NULL when the layout has none: a block
 * device's rules pin pread64/pwrite64 to its fd, size == its block size and offset <= capacity -
 * block size (its module's own rules, like Solo5 spt's block module). */
scmp_filter_ctx vm_process_filter(const char *layout, const struct proc_dev_geo *dev);

#endif /* FUNK_MONITOR_PROCESS_FILTER_H */
