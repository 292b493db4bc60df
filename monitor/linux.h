/* SPDX-License-Identifier: Apache-2.0 */
/* Linux x86-64 system-call personality (process and KVM backends): loader, start, syscalls. */
#ifndef FUNK_MONITOR_LINUX_H
#define FUNK_MONITOR_LINUX_H

#include <linux/filter.h>
#include <signal.h>
#include <stdint.h>

#include "vm_internal.h"

/*
 * What the parent stages for a Linux guest (FUNK_VM_F_LINUX), at the start of vm->staging (the
 * launcher carries it in the sealed memfd like a funk guest's boot area): where the image lies
 * once loaded, then argv and envp as NUL-terminated strings.
 */
#define LINUX_BOOT_MAGIC 0x5846554cu /* "LUFX" */
#define LINUX_PIE_BASE 0x400000u     /* where a static-pie (ET_DYN) image is placed */
#define LINUX_STACK_MAX (8u << 20)
#define LINUX_MIN_HEAP (1u << 20)

struct linux_boot {
    uint32_t magic;
    uint32_t argc, envc;
    uint32_t strings_len; /* argv then envp strings, each NUL-terminated */
    uint64_t phdr;        /* AT_PHDR (guest address) */
    uint32_t phnum, phent;
    uint64_t brk_start; /* page-aligned end of the image */
    uint64_t stack_size;
    uint64_t bundle_off, bundle_len; /* the bundle blob inside vm->elf_copy (0: none) */
    char strings[];
};

/* The bundle blob (linux_bundle.c builds it, linux_syscall.c serves it): header, entries (0 is
 * the root directory), NUL-terminated names, file data. Offsets are from the blob's start. */
#define LX_BUNDLE_MAGIC 0x4c444e42u /* "BNDL" */
#define LX_BUNDLE_MAX_ENTRIES 4096u
#define LX_BUNDLE_MAX_BYTES (64ull << 20)
struct lx_bundle {
    uint32_t magic, n;
    uint64_t names_off, data_off, len;
};
struct lx_bentry {
    uint32_t parent, name_off, name_len, is_dir;
    uint64_t data_off, size; /* data_off: relative to the data area */
};
/* Copies the regular files and directories under dir (NULL: none; no link followed), then the
 * given files at their absolute paths (directories made as needed), into *out (malloc'd). */
int linux_bundle_build(const char *dir, const struct funk_vm_file *files, size_t nfiles,
                       uint8_t **out, size_t *out_len);

/* linux_elf.c: validates a static ET_EXEC / static-pie ET_DYN image for a guest of mem_size and
 * stages it (vm->img, vm->elf_copy, the struct linux_boot). 0 or -errno with vm->err set. */
int linux_vm_load(struct funk_vm *vm, const void *elf, size_t len, const struct funk_vm_boot *boot);

/* linux_x86_64.c (child side): guest memory is mapped at mem (PROCESS_MEM_BASE..mem_size);
 * copies the image, builds the initial stack, installs the handlers and the filter, enters. */
void linux_guest_enter(struct funk_vm *vm, uint8_t *mem) __attribute__((noreturn));
/* The filter of a Linux guest: every system call made from guest memory traps; the monitor's
 * own calls go through the process backend's program (base) as before. */
int linux_filter(const struct funk_vm *vm, const struct sock_fprog *base, struct sock_fprog *out);

/* linux_syscall.c: serves one trapped system call; the result goes to %rax. */
struct linux_regs {
    uint64_t nr, a[6];
};
int64_t linux_syscall(struct linux_regs *r);
void linux_syscall_init(struct funk_vm *vm, const struct linux_boot *lb, uint64_t stack_lo);
extern uint64_t linux_guest_fs; /* the guest's FS base (arch_prctl), restored on return */

/*
 * The KVM backend's host side for linux_syscall.c (linux_kvm_x86_64.c); without one (the
 * process backend) guest memory is identity-mapped and the guest process's channel is used.
 */
struct linux_host {
    uint8_t *mem;                                           /* host address of guest address 0 */
    void (*pages)(uint64_t addr, uint64_t len, uint8_t v);  /* the page map changed */
    void (*protect)(uint64_t addr, uint64_t len, int prot); /* mprotect's equivalent */
    int (*recv)(struct funk_vm_request *req);               /* 0, > 0: none, < 0: error */
    int (*send)(const struct funk_vm_response *resp);
    void (*console)(const char *data, size_t len);
    void (*exit)(enum funk_vm_exit exit, int status, const char *reason); /* returns */
    /* a funk hypercall of a program with the funk note; a stopping one ends the run (returns) */
    void (*hypercall)(unsigned nr, uint64_t arg);
};
void linux_syscall_host(const struct linux_host *h);

/* linux_kvm_x86_64.c: builds the guest's privileged side and its memory at load (KVM), and
 * serves the personality's exits (< 0: not one of its exits). */
int linux_kvm_setup(struct funk_vm *vm);
int linux_kvm_exit(struct funk_vm *vm);
void linux_kvm_release(struct funk_vm *vm);

/* linux_x86_64.c: the initial stack (argv, envp, auxv) below the top of guest memory, written
 * through host address base + guest address; *sp_out: the guest's %rsp. 0 or -EIO. */
int linux_stack_build(const struct funk_vm *vm, const struct linux_boot *lb, uintptr_t base,
                      uint64_t *sp_out);
/* The image's pages into the page map (and with host_prot the process's own protections). */
void linux_image_pages(const struct funk_vm *vm, int host_prot);

/* Page map of guest memory (linux_syscall.c): owner and protection per 4 KiB page. */
enum {
    LX_FREE = 0,
    LX_IMAGE = 1,
    LX_BRK = 2,
    LX_MMAP = 3,
    LX_STACK = 4,
    LX_OWNER = 7,
    LX_R = 0x10,
    LX_W = 0x20,
    LX_X = 0x40
};
void linux_pages_set(uint64_t addr, uint64_t len, uint8_t v);
/* True when the program itself may write every page of [addr, addr+len): the host writes a
 * hypercall's results only there (vm_host_ro), never past the program's own W^X. */
bool linux_guest_writable(uint64_t addr, uint64_t len);
void linux_pages_reset(uint64_t mem); /* [0, mem) free (a new guest in the same process) */
/* The process backend's guest process starts with no host hook and, should it have inherited
 * a KVM guest's state (forked from its library user), a clean page map. */
void linux_syscall_process_start(uint64_t mem);

/* process_linux.c: the child's channel and result, for the personality. */
int vm_process_child_recv(struct funk_vm_request *req);
int vm_process_child_send(const struct funk_vm_response *resp);
void vm_process_child_console(const char *data, size_t len);
/* A funk hypercall of a guest with the funk note: returns, or ends the guest (a stopping call). */
void vm_process_child_hypercall(unsigned nr, uint64_t arg);
/* Ends the guest process with this result. Never returns, but is not declared noreturn: under
 * ASan a call to a noreturn function from the signal stack would make the runtime inspect the
 * stack through /proc, which the sandbox forbids. */
void vm_process_child_exit(enum funk_vm_exit exit, int status, const char *reason);
void vm_process_on_fault(int sig, siginfo_t *si, void *uc);

#endif /* FUNK_MONITOR_LINUX_H */
