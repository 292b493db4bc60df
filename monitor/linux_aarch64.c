/* SPDX-License-Identifier: Apache-2.0 */
/* The Linux system-call personality on aarch64: not written yet. linux_vm_load refuses every
 * program that is not x86-64, so these are never reached; they fail closed if they were. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
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

/* The personality's KVM host (linux_kvm_x86_64.c) has no aarch64 counterpart either. */
int linux_kvm_setup(struct funk_vm *vm)
{
    snprintf(vm->err, sizeof vm->err, "Linux programs run on x86_64 only (no aarch64 personality)");
    return -ENOTSUP;
}

int linux_kvm_exit(struct funk_vm *vm)
{
    return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "no Linux personality on aarch64");
}

void linux_kvm_release(struct funk_vm *vm)
{
    (void)vm;
}

/* Never asked: vm_host_ro asks only for a loaded Linux program, which aarch64 refuses. */
bool linux_guest_writable(uint64_t addr, uint64_t len)
{
    (void)addr, (void)len;
    return false;
}
