/* SPDX-License-Identifier: Apache-2.0 */
/* The Linux system-call personality on aarch64: not written yet. linux_vm_load refuses every
 * program that is not x86-64, so these are never reached; they fail closed if they were. */
#include <errno.h>
#include <stdlib.h>

#include "linux.h"
#include "vm_internal.h"

int linux_filter(const struct funk_vm *vm, const struct sock_fprog *base, struct sock_fprog *out)
{
    (void)vm, (void)base, (void)out;
    return -ENOTSUP;
}

void linux_guest_enter(struct funk_vm *vm, uint8_t *mem)
{
    (void)vm, (void)mem;
    vm_process_child_exit(FUNK_VM_EXIT_INTERNAL, 0,
                          "Linux programs run on x86_64 only (no aarch64 personality yet)");
    abort();
}
