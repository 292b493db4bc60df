/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5 spt guests on aarch64: not written yet; such a guest's process ends with a clear
 * reason before running any of its code. */
#include <errno.h>
#include <stdlib.h>

#include "linux.h"
#include "vm_internal.h"

void spt_stage(struct funk_vm *vm)
{
    (void)vm;
}

int spt_filter(const struct funk_vm *vm, const struct sock_fprog *base, struct sock_fprog *out)
{
    (void)vm, (void)base, (void)out;
    return -ENOTSUP;
}

void spt_guest_enter(struct funk_vm *vm)
{
    (void)vm;
    vm_process_child_exit(FUNK_VM_EXIT_INTERNAL, 0,
                          "Solo5 spt guests run on x86_64 only (no aarch64 spt support yet)");
    abort();
}
