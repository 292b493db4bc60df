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

/* Per architecture (x86_64.c, aarch64.c): the monitor-owned guest memory for the loaded image
 * (page tables, exception and hypercall stubs); 0 or -ENOMEM (page-table pool too small). */
int vm_backend_mem_setup(struct funk_vm *vm);

/* Guest address of the monitor's hypercall stub under KVM (funk_boot_info.hypercall). */
uint64_t vm_backend_hc_stub(void);

/* The vCPU ioctls the KVM run loop makes once the monitor's seccomp filter is on: KVM_RUN and
 * the register reads of its fault reports (seccomp.c allows exactly these on the vCPU fd). */
extern const unsigned long vm_backend_run_ioctls[];
extern const unsigned vm_backend_nrun_ioctls;
/* ... and those the Linux personality under KVM adds (none where it does not exist). */
extern const unsigned long vm_backend_linux_ioctls[];
extern const unsigned vm_backend_nlinux_ioctls;

/* Whether KVM here is hardware virtualization (--isolation=auto picks KVM only then): x86_64
 * looks for vmx/svm in /proc/cpuinfo (without them KVM is software-emulated PVM); aarch64 KVM
 * always runs on the CPU's EL2. */
int vm_backend_hw_virt(void);

/* Name of an exception vector (x86_64) or exception class (aarch64). */
const char *vm_backend_vector_name(unsigned vector);

/* Largest guest memory: hypercall arguments are 32-bit guest addresses (and aarch64's hypercall
 * MMIO range starts at 4 GiB). */
#define VM_MAX_MEM (4ull << 30)

#endif /* FUNK_MONITOR_VM_BACKEND_H */
