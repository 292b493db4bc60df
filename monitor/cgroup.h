/* SPDX-License-Identifier: Apache-2.0 */
/* Per-guest control groups: memory, CPU and process-count limits a guest cannot lift. */
#ifndef FUNK_MONITOR_CGROUP_H
#define FUNK_MONITOR_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include <funk/vm.h>

/*
 * Contract (who does what):
 *  - The supervisor (the libfunk-vm user: funkd, funk-monitor) creates one cgroup per guest
 *    process before it asks the launcher for the guest (vm_cgroup_create), sets the limits in
 *    it, and passes open directory fds of it with the launch request.
 *  - The launched child joins it first thing, while it still has the launcher's credentials
 *    (vm_cgroup_join: "0" into each cgroup.procs), before it drops to the guest user and
 *    installs its filter. So every byte the guest process ever allocates, every CPU cycle and
 *    every process it (or a snapshot template's instances) creates is counted.
 *  - The guest cannot lift the limits: the files belong to root and the guest's filter has no
 *    open/write of anything but its own fds.
 *  - When the guest ends the supervisor reads whether the memory limit killed it
 *    (vm_cgroup_oom_killed), kills whatever is left in it and removes it (vm_cgroup_destroy).
 *
 * Hierarchies: cgroup v2 where the memory, cpu and pids controllers are on the unified
 * hierarchy; else cgroup v1's memory, cpu and pids hierarchies (hybrid hosts, like this one's
 * systemd-less Debian). Each guest cgroup is created below the supervisor's own cgroup in that
 * hierarchy: <own>/funk-<supervisor pid>/g<n>.
 *
 * Modes (FUNK_CGROUP): "auto" (default) uses cgroups when the
 * supervisor may create them and continues without them otherwise (logged once); "required"
 * makes a guest fail to start (FUNK_EXIT_SETUP) without them; "off" never uses them.
 */

#define VM_CGROUP_MAX 3 /* v1: memory, cpu, pids; v2: one */

struct vm_cgroup {
    int n;                       /* directories in use (0: no cgroup) */
    int dirfd[VM_CGROUP_MAX];    /* O_DIRECTORY fds of the guest's cgroup, per hierarchy */
    char *path[VM_CGROUP_MAX];   /* their absolute paths, for removal */
    bool v2;
};

/* Creates the guest's cgroup with the limits (0 fields: none of that kind). Returns 0 with
 * cg->n > 0, 0 with cg->n == 0 when cgroups are not used (mode off, or auto and unavailable),
 * or -errno (mode required and unavailable, or a limit the kernel refused). */
int vm_cgroup_create(const struct funk_vm_limits *lim, struct vm_cgroup *cg);

/* In the launched child: moves the calling process into each directory. 0 or -errno. */
int vm_cgroup_join(const int *dirfds, int n);

/* True when the memory controller killed a process of this cgroup (its limit was hit). */
bool vm_cgroup_oom_killed(const struct vm_cgroup *cg);

/* Kills every process still in the cgroup, waits (bounded) for it to empty, removes it and
 * closes its fds. Safe on a cgroup with n == 0 and twice. */
void vm_cgroup_destroy(struct vm_cgroup *cg);

#endif /* FUNK_MONITOR_CGROUP_H */
