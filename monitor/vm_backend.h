/* SPDX-License-Identifier: Apache-2.0 */
/* What the backend-independent loader and hypercall modules need from the KVM backend. */
#ifndef FUNK_MONITOR_VM_BACKEND_H
#define FUNK_MONITOR_VM_BACKEND_H

#include <stdint.h>

struct funk_vm;

/* Sets the vCPU's registers for the loaded image (long mode, entry, stack, boot info). */
int vm_backend_boot(struct funk_vm *vm);

/* TSC frequency in Hz for hvt_boot_info (0 when unknown). */
uint64_t vm_backend_tsc_freq(void);

/* The faulting address (CR2) of the last page fault. */
uint64_t vm_backend_fault_addr(struct funk_vm *vm);

#endif /* FUNK_MONITOR_VM_BACKEND_H */
