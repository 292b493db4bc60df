/* SPDX-License-Identifier: Apache-2.0 */
/* --dumpcore on aarch64: not written yet (the core note layout is per architecture). */
#include <errno.h>

#include "vm_internal.h"

int funk_vm_dumpcore(struct funk_vm *vm, int fd, size_t *pages_dumped, size_t *pages_total)
{
    (void)vm, (void)fd;
    if (pages_dumped)
        *pages_dumped = 0;
    if (pages_total)
        *pages_total = 0;
    return -ENOTSUP;
}
