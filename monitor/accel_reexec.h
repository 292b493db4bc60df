/* SPDX-License-Identifier: Apache-2.0 */
/* When a funk-monitor without in-process ACCEL (static-pie) hands a guest to one that has it. */
#ifndef FUNK_MONITOR_ACCEL_REEXEC_H
#define FUNK_MONITOR_ACCEL_REEXEC_H

#include <stdbool.h>
#include <stddef.h>

/* Set in the environment of the re-executed monitor; a monitor that finds it set does not hand
 * the guest on again (a misconfigured target would otherwise exec itself forever). */
#define ACCEL_REEXEC_GUARD "FUNK_MONITOR_REEXECED"
/* Overrides where the monitor with in-process ACCEL is (default: SIBLING beside this one). */
#define ACCEL_REEXEC_ENV "FUNK_MONITOR_ACCEL"

/* Decides whether this monitor, which cannot serve ACCEL in process, should exec another one for
 * the guest ELF (elf, len): only when the ELF carries the funk accel note and ACCEL is served in
 * process (!agent). The target is `override` when non-NULL and non-empty, else `sibling` in the
 * directory of `self` (this executable's path). Returns 1 with the target in out, 0 to run the
 * guest here, -ELOOP when `guard` is set (already handed on once), -ENAMETOOLONG, -EINVAL. */
int accel_reexec_target(const void *elf, size_t len, bool agent, const char *override,
                        const char *guard, const char *self, const char *sibling, char *out,
                        size_t outlen);

#endif
