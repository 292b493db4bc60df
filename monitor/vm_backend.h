/* SPDX-License-Identifier: Apache-2.0 */
/* The backend contract: one const ops table per backend file; the core (vm.c) calls only these. */
#ifndef FUNK_MONITOR_VM_BACKEND_H
#define FUNK_MONITOR_VM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct funk_vm;
struct funk_vm_snapshot;

/*
 * Like Solo5's struct hvt with its opaque backend part: struct funk_vm is the shared part
 * (image, devices, run state), vm->ops says who runs the guest, and each backend keeps its own
 * state in its own fields (vm_internal.h groups them by backend). vm.c never names a backend.
 *   kvm_x86_64.c     vm_kvm_ops        the guest's vCPU runs in this process's thread
 *   process_linux.c  vm_process_ops    the guest runs natively in a launched, sandboxed process
 *   kvm_spawn.c      vm_kvm_spawn_ops  a launched monitor process runs the KVM VM (funkd)
 * Hooks are called in this order: shell_new, place, boot (funk_vm_load), run or snapshot_new,
 * kick (any thread, async-signal-safe), release (funk_vm_delete).
 */
struct vm_backend_ops {
    const char *name; /* in logs: "kvm", "process", "kvm-spawn" */
    int isolation;    /* what funk_vm_isolation() and the guest's boot info report */
    /* Creates what can be created ahead of need, and sets mem, mem_base, mem_end. */
    int (*shell_new)(struct funk_vm *vm);
    /* Puts the parsed image (vm->img) where the guest will run, or refuses it (vm->err). */
    int (*place)(struct funk_vm *vm, const void *elf, size_t elf_len);
    /* hvt_boot_info.cpu_cycle_freq (0: guests use WALLTIME) and funk_boot_info.hypercall. */
    uint64_t (*cycle_freq)(void);
    uint64_t (*hypercall_entry)(void);
    /* After the boot area is written: the vCPU's registers, or a refusal (vm->err). */
    int (*boot)(struct funk_vm *vm);
    int (*run)(struct funk_vm *vm);
    void (*kick)(struct funk_vm *vm);
    /* The run-loop seccomp filter of funk_vm_sandbox (NULL: nothing runs here to filter). */
    int (*sandbox)(struct funk_vm *vm);
    void (*release)(struct funk_vm *vm);
    /* In a launched guest process (process_linux.c child_main), both optional: child_open runs
     * before the process drops its user (to open what needs privileges), child_enter after
     * its limits and namespaces, instead of mapping a native guest; it never returns. */
    void (*child_open)(struct funk_vm *vm);
    void (*child_enter)(struct funk_vm *vm) __attribute__((noreturn));
    /* Optional: fds [*lo, *lo + n) the process opened before it got its guest and keeps; n. */
    int (*child_keep_fds)(const struct funk_vm *vm, int *lo);
    int (*snapshot_new)(struct funk_vm *vm, struct funk_vm_snapshot **out);
    int (*restore)(struct funk_vm *vm, struct funk_vm_snapshot *snap);
    void (*snapshot_delete)(struct funk_vm_snapshot *snap);
};

extern const struct vm_backend_ops vm_kvm_ops, vm_process_ops, vm_kvm_spawn_ops;

/* kvm.c: the KVM ops both architectures' tables use: the image into guest memory with the
 * monitor's page tables, funk_boot_info.hypercall, the vCPU's registers. */
int vm_kvm_place(struct funk_vm *vm, const void *elf, size_t elf_len);
uint64_t vm_kvm_hypercall_entry(void);
int vm_kvm_boot(struct funk_vm *vm);
/* kvm.c: a snapshot's guest pages (the touched ones, packed) and putting them back. */
int vm_kvm_snap_pages(struct funk_vm *vm, struct funk_vm_snapshot *snap);
void vm_kvm_snap_pages_restore(struct funk_vm *vm, const struct funk_vm_snapshot *snap);

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
/* ... those a spawned monitor's snapshot template also needs to build and restore an
 * instance's VM on the architecture (kvm_spawn.c; besides create VM/vCPU/memory and the above) */
extern const unsigned long vm_backend_spawn_ioctls[];
extern const unsigned vm_backend_nspawn_ioctls;
/* ... and those its snapshot capture reads the vCPU with (beside the run-loop ones) */
extern const unsigned long vm_backend_snap_ioctls[];
extern const unsigned vm_backend_nsnap_ioctls;
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
