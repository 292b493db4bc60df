/* SPDX-License-Identifier: Apache-2.0 */
/* When a funk-monitor without in-process ACCEL (static-pie) hands a guest to one that has it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FUNK_ABI_HOST
#include <funk/abi/funk.h>

#include "accel_reexec.h"
#include "elf_note.h"

int accel_reexec_target(const void *elf, size_t len, bool agent, const char *override,
                        const char *guard, const char *self, const char *sibling, char *out,
                        size_t outlen)
{
    if (agent || elf_note_find(elf, len, FUNK_NOTE_TYPE_ACCEL, NULL) != 1)
        return 0; /* no in-process ACCEL needed: keep the fast boot */
    if (guard && *guard)
        return -ELOOP;
    if (override && *override) {
        if (strlen(override) >= outlen)
            return -ENAMETOOLONG;
        strcpy(out, override);
        return 1;
    }
    if (!self || !sibling || !*sibling || strchr(sibling, '/'))
        return -EINVAL;
    const char *slash = strrchr(self, '/');
    if (!slash)
        return -EINVAL;
    int n = snprintf(out, outlen, "%.*s/%s", (int)(slash - self), self, sibling);
    if (n < 0 || (size_t)n >= outlen)
        return -ENAMETOOLONG;
    return 1;
}
