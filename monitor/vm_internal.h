/* SPDX-License-Identifier: Apache-2.0 */
/* libfunk-vm internals shared by the run loop, the backends and the hypercall modules. */
#ifndef FUNK_MONITOR_VM_INTERNAL_H
#define FUNK_MONITOR_VM_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <funk/vm.h>

#include "cgroup.h"
#include "elf_loader.h"

struct kvm_run;

struct vm_dev {
    int fd;              /* -1 when the manifest entry is not attached */
    uint32_t type;       /* enum mft_type */
    uint64_t capacity;   /* block: bytes */
    uint16_t block_size; /* block: bytes */
    uint32_t frame_max;  /* net: largest frame (MTU + Ethernet header) */
};

struct vm_backend_ops;

struct funk_vm {
    const struct vm_backend_ops *ops; /* who runs the guest (vm_backend.h) */
    void *be;                         /* that backend's private state, if it keeps any */
    int backend; /* ops->isolation (FUNK_ISOLATION_KVM or _PROCESS), for modules' checks */
    /* KVM backend (kvm_x86_64.c): the shell, created ahead of need. */
    int kvm_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *mem;      /* host address of guest address mem_base */
    uint64_t mem_base; /* lowest valid guest address (0 under KVM) */
    uint64_t mem_end;  /* end of the addressable range (mem_size, or the staging area's end) */
    uint64_t mem_size;
    unsigned flags;

    /* Process backend: the image and boot area staged in the parent, the child's pid. */
    uint8_t *elf_copy;
    size_t elf_len;
    /* A Linux guest's program from linux_elf.c's image cache: that sealed memfd (its fd + 1, 0:
     * none; dup'd for this VM, closed with it) of image_len bytes (page-aligned) goes to the
     * launcher as is, and elf_copy then holds only what follows it (the bundle). */
    int image_fd1;
    size_t image_len;
    uint8_t *staging; /* guest [HVT_BOOT_INFO_GPA, PROCESS_STAGING_END) */
    int child_pid;     /* a fresh guest: the pid fork returned (our child) */
    int child_pidfd;   /* a restored instance: the pidfd its template's clone returned, else -1 */
    int launched;      /* in a launched guest process: the library user's pid (its parent) */
    int restored_fd;   /* channel of an instance forked from a snapshot template, else -1 */
    int snapshot_mode; /* run as a snapshot template (stop at the first FN_RECV) */
    int snap_ready;        /* KVM: stopped at the first FN_RECV for a snapshot */
    hvt_gpa_t snap_gpa;    /* KVM: that FN_RECV's argument */
    hvt_gpa_t resume_recv; /* KVM: restored instance: serve this FN_RECV before running */

    /* Loaded guest. */
    bool loaded;
    bool mem_written; /* a load has copied segments into this shell's memory */
    bool funk_guest;
    struct elf_image img;
    uint32_t ndev;
    struct vm_dev dev[MFT_MAX_ENTRIES];

    /* Run state. */
    const struct funk_vm_io *io;
    struct funk_vm_result *res;
    struct funk_vm_request pending; /* request fetched but not yet delivered */
    int pending_state;              /* 0 none, 1 pending, 2 delivered (awaiting FN_SEND) */
    volatile sig_atomic_t kicked;
    volatile sig_atomic_t running;
    pthread_t thread; /* the thread inside funk_vm_run, for funk_vm_kick */
    char err[256];
    hvt_gpa_t halt_cookie; /* HALT's cookie (0 or a guest address), for a core dump */
    void *accel; /* hc_accel.c state (NULL: the guest does not use ACCEL) */

    /* Process backend: limits for the guest's cgroup (cgroup.c), and that cgroup while the
     * guest process lives (n == 0: none). */
    struct funk_vm_limits limits;
    struct vm_cgroup cg;
};

/*
 * The one place a guest-physical range becomes a host pointer: NULL unless [gpa, gpa+len) lies
 * inside guest memory (overflow-safe). len 0 is allowed at any gpa <= mem_size.
 */
static inline void *vm_gpa(const struct funk_vm *vm, hvt_gpa_t gpa, uint64_t len)
{
    if (gpa < vm->mem_base || gpa > vm->mem_end || len > vm->mem_end - gpa)
        return NULL;
    return vm->mem + (gpa - vm->mem_base);
}

/* True when [gpa, gpa+len) (already checked by vm_gpa) touches a page that is read-only in the
 * host mapping (plain Solo5 guests under KVM): the host must not write there either. */
bool vm_host_ro(const struct funk_vm *vm, uint64_t gpa, uint64_t len);

/* Process backend: guest memory starts at the boot info (0x10000 == vm.mmap_min_addr). */
#define PROCESS_MEM_BASE HVT_BOOT_INFO_GPA
#define PROCESS_STAGING_END (FUNK_ENV_GPA + FUNK_ENV_MAX)

/* Backends (kvm_x86_64.c, process_linux.c); the core reaches them through vm->ops only. */
int vm_kvm_shell_new(struct funk_vm *vm);
int vm_kvm_run(struct funk_vm *vm);
void vm_kvm_delete(struct funk_vm *vm);
int vm_kvm_sandbox(struct funk_vm *vm); /* seccomp.c: the in-process run loop's filter */
/* seccomp.c: adds the run loop's rules (vCPU, devices, ACCEL) to a libseccomp context. */
int vm_kvm_filter_rules(const struct funk_vm *vm, void *ctx);
int vm_process_run(struct funk_vm *vm);
void vm_process_kick(struct funk_vm *vm);
int vm_process_sandbox(struct funk_vm *vm); /* in the child, before entering the guest */
/* Solo5 spt guests (spt_x86_64.c): the parent stages struct spt_boot_info and the manifest with
 * the child's fixed host fds; the child enters the guest under spt's filter (never returns). */
void spt_stage(struct funk_vm *vm);
void spt_guest_enter(struct funk_vm *vm) __attribute__((noreturn));
struct sock_fprog;
int spt_filter(const struct funk_vm *vm, const struct sock_fprog *base, struct sock_fprog *out);
bool vm_process_legacy(const struct funk_vm *vm); /* guest forked from the library user */
/* launcher.c: starts the guest from the clean launcher; its channel and pidfd. */
int vm_launch(struct funk_vm *vm, int *chan_out, int *pidfd_out);
/* vm_launch's answer when no launcher can run in this process (its binary cannot be exec'd:
 * a chroot without it, no /proc): the run fails with -EHOSTDOWN (funk_vm_process_prepare
 * starts one ahead of a chroot); only FUNK_PROCESS_LAUNCHER=off forks from the library user. */
#define VM_LAUNCH_UNAVAILABLE (-EHOSTDOWN)
/* In the launched child: filters, then the guest (never returns). */
void vm_process_child_start(struct funk_vm *vm, int chan) __attribute__((noreturn));
/* A snapshot: a paused template process (process backend) or a memory image + vCPU state. */
struct funk_vm_snapshot {
    const struct vm_backend_ops *ops; /* the backend that made it (and restores it) */
    uint64_t mem_size;
    /* process */
    int pid;   /* legacy template (forked from the library user), else -1 */
    int pidfd; /* launched template, else -1 */
    int chan;
    pthread_mutex_t lock;
    struct vm_cgroup cg; /* the template's cgroup (its instances are counted in it) */
    /* kvm: the pages the guest had touched, packed, and where they go */
    uint8_t *image;
    uint64_t (*ranges)[2]; /* guest offset, length */
    size_t nranges;
    hvt_gpa_t recv_gpa;
    struct elf_image img;
    void *regs, *sregs, *fpu; /* struct kvm_regs / kvm_sregs / kvm_fpu */
    uint64_t tsc;
};

/* The process backend's supervisor side, shared with the spawned KVM monitor (kvm_spawn.c):
 * the boot area staged here, the image kept for the launched process, the channel served. */
int vm_process_shell_new(struct funk_vm *vm);
int vm_process_place(struct funk_vm *vm, const void *elf, size_t elf_len);
void vm_process_release(struct funk_vm *vm);
/* In a launched guest process: start an instance forked from a template (its own console
 * budget, the instance filter stacked; 0 or -errno), and send the result (vm->res) and exit. */
int vm_child_instance_start(void);
/* Kills the process of a pidfd (a child of this process) and reaps it off the caller's path;
 * takes the fd. */
void vm_reap_pidfd(int pidfd);
/* In a launcher's pre-built KVM monitor (launcher.c): builds the VM for a guest of mem_size
 * before any request (kvm_spawn.c); 0 or -errno. */
int vm_kvm_spawn_prebuild(uint64_t mem_size);
void vm_child_finish(void) __attribute__((noreturn));
int vm_process_snapshot_new(struct funk_vm *vm, struct funk_vm_snapshot **out);
int vm_process_restore(struct funk_vm *vm, struct funk_vm_snapshot *snap);
void vm_process_snapshot_delete(struct funk_vm_snapshot *snap);

/* What funk_boot_info.hypercall is under the process backend (a host function). */
uint64_t vm_process_entry_addr(void);

/* A load refusal: rc, with vm->err set to the one-line reason. */
int vm_load_error(struct funk_vm *vm, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Makes the kernel's pages without write permission read-only in the host mapping (vm->mem). */
int vm_protect_kernel(struct funk_vm *vm);

/* Ends the run with exit code `exit` and a one-line reason; returns HC_STOP. */
int vm_stop(struct funk_vm *vm, enum funk_vm_exit exit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void vm_log(const struct funk_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Hypercall modules ------------------------------------------------------------------ */
enum { HC_CONTINUE = 0, HC_STOP = 1 };

/* arg points at arg_size checked, 8-byte aligned bytes of guest memory. */
typedef int (*hc_handler_fn)(struct funk_vm *vm, void *arg);

struct hc_call {
    unsigned nr;
    size_t arg_size;
    bool funk_only; /* only for guests with a funk note */
    hc_handler_fn fn;
    bool arg_in_only; /* the host never writes the argument struct (PUTS, HALT) */
};

/* A module that carries an fd into a guest's sandbox owns it and its rules (like Solo5 spt's
 * modules): the core moves, passes and filters module fds without knowing whose they are. */
struct hc_fd_ops {
    int *(*fd)(struct funk_vm *vm);           /* the fd it holds for this VM now, or NULL */
    int (*adopt)(struct funk_vm *vm, int fd); /* a launched guest process takes it over */
    int (*seccomp)(void *scmp_ctx, int fd);   /* the rules for exactly that fd (at fd) */
};

struct hc_module {
    const char *name;
    /* Optional: called after load (devices attached) to check or prepare; 0 or -errno. */
    int (*setup)(struct funk_vm *vm);
    const struct hc_call *calls;
    size_t ncalls;
    const struct hc_fd_ops *fdops; /* optional */
};

/* ACCEL (hc_accel.c): prepared by its setup, freed with the VM. */
extern const struct hc_module hc_accel_module;
void hc_accel_free(struct funk_vm *vm);

/* Module fds: at most one per module. hc_fds fills slot[i] (the fd's place, so a mover can
 * update it) and mod[i] (the module's index) and returns the count, in module order. */
#define HC_MAX_MODULES 16
unsigned hc_fds(struct funk_vm *vm, int **slot, unsigned *mod, unsigned max);
/* Module mod's rules for its fd at fd; 0 or -errno. */
int hc_fd_seccomp(unsigned mod, void *scmp_ctx, int fd);
/* Module mod takes over fd in a launched guest process (before hc_setup); 0 or -errno. */
int hc_fd_adopt(struct funk_vm *vm, unsigned mod, int fd);

extern const struct hc_module hc_console, hc_clock, hc_poll, hc_block, hc_net, hc_halt, hc_fn,
    hc_fault;

/* Builds the dispatch table (idempotent) and runs every module's setup. */
int hc_setup(struct funk_vm *vm);

/* Serves hypercall nr with the argument at gpa: checks, dispatches; HC_CONTINUE or HC_STOP. */
int hc_dispatch(struct funk_vm *vm, unsigned nr, hvt_gpa_t gpa);

#endif /* FUNK_MONITOR_VM_INTERNAL_H */
