/* SPDX-License-Identifier: Apache-2.0 */
/* Run-loop sandbox: after set-up, only the syscalls serving the guest remain (libseccomp). */
#include <errno.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm_backend.h"
#include "vm_internal.h"

/* A forbidden call in the run loop (a guest steered the monitor somewhere it must not go):
 * the process ends with FUNK_EXIT_SANDBOX and says which call, not with a bare SIGSYS (159).
 * Only write(2) and exit_group run here, both allowed by the filter; rt_sigaction is not, so
 * nothing can replace this handler afterwards. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    char msg[96] = "funk-monitor: sandbox: the run loop made a forbidden system call ";
    size_t n = strlen(msg);
    char d[12];
    int k = 0;
    unsigned v = (unsigned)si->si_syscall;
    do
        d[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < 11);
    while (k && n < sizeof msg - 2)
        msg[n++] = d[--k];
    msg[n++] = '\n';
    if (write(2, msg, n) < 0) {
    }
    _exit(FUNK_EXIT_SANDBOX);
}

static int allow(scmp_filter_ctx ctx, int nr)
{
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

int funk_vm_sandbox(struct funk_vm *vm)
{
    if (!vm)
        return -EINVAL;
    /* NULL: the guest runs in a process that installs its own filter. */
    return vm->ops->sandbox ? vm->ops->sandbox(vm) : 0;
}

/* The KVM backend's filter for the thread running KVM_RUN in this process. */
int vm_kvm_sandbox(struct funk_vm *vm)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        return -errno;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx)
        return -ENOMEM;
    int rc = vm_kvm_filter_rules(vm, ctx);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc < 0 ? rc : (rc ? -EINVAL : 0);
}

/* The rules of a KVM run loop that serves this guest (also a spawned monitor's, kvm_spawn.c). */
int vm_kvm_filter_rules(const struct funk_vm *vm, void *ctx)
{
    int rc = 0;
    /* The vCPU: run it and read its registers for fault reports (the architecture's ioctls);
     * nothing else, no other fd. */
    for (unsigned i = 0; i < vm_backend_nrun_ioctls; i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
                               SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->vcpu_fd),
                               SCMP_A1(SCMP_CMP_EQ, vm_backend_run_ioctls[i]));
    if (vm->flags & FUNK_VM_F_LINUX) {
        /* Linux personality (linux_kvm_x86_64.c): a system call's result where the kernel has
         * no KVM_CAP_SYNC_REGS, the guest's FS base (arch_prctl), getrandom's bytes */
        for (unsigned i = 0; i < vm_backend_nlinux_ioctls; i++)
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
                                   SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->vcpu_fd),
                                   SCMP_A1(SCMP_CMP_EQ, vm_backend_linux_ioctls[i]));
        rc |= allow(ctx, SCMP_SYS(getrandom));
        /* guest pages that lose permissions: a protection round trip on the host mapping
         * makes a shadow-paging KVM drop its entries (never executable) */
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                               SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    }
    /* Console and response output, device I/O. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 1));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 2));
    for (unsigned i = 0; i < vm->ndev; i++) {
        int fd = vm->dev[i].fd;
        if (fd < 0)
            continue;
        scmp_datum_t d = (scmp_datum_t)fd;
        if (vm->dev[i].type == MFT_DEV_BLOCK_BASIC) {
            /* One block inside the device per call (hc_dev.c issues exactly that). */
            scmp_datum_t bs = vm->dev[i].block_size;
            scmp_datum_t last = vm->dev[i].capacity >= bs ? vm->dev[i].capacity - bs : 0;
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pread64), 3, SCMP_A0(SCMP_CMP_EQ, d),
                                   SCMP_A2(SCMP_CMP_EQ, bs), SCMP_A3(SCMP_CMP_LE, last));
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwrite64), 3, SCMP_A0(SCMP_CMP_EQ, d),
                                   SCMP_A2(SCMP_CMP_EQ, bs), SCMP_A3(SCMP_CMP_LE, last));
        } else {
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, SCMP_A0(SCMP_CMP_EQ, d));
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, d));
        }
    }
    rc |= allow(ctx, SCMP_SYS(clock_gettime));
    rc |= allow(ctx, SCMP_SYS(ppoll));
    rc |= allow(ctx, SCMP_SYS(poll));
    rc |= allow(ctx, SCMP_SYS(rt_sigreturn));
    rc |= allow(ctx, SCMP_SYS(exit));
    rc |= allow(ctx, SCMP_SYS(exit_group));
    /* stdio and the sanitizer runtime may allocate: memory, but never executable. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= allow(ctx, SCMP_SYS(munmap));
    rc |= allow(ctx, SCMP_SYS(brk));
    rc |= allow(ctx, SCMP_SYS(madvise));
    rc |= allow(ctx, SCMP_SYS(futex));
    rc |= allow(ctx, SCMP_SYS(newfstatat));
    rc |= allow(ctx, SCMP_SYS(fstat));
    rc |= allow(ctx, SCMP_SYS(close));
    /* The sanitizer runtime's exit and error paths. */
    rc |= allow(ctx, SCMP_SYS(sigaltstack));
    rc |= allow(ctx, SCMP_SYS(rt_sigprocmask));
    rc |= allow(ctx, SCMP_SYS(getpid));
    rc |= allow(ctx, SCMP_SYS(gettid));
    /* funk_vm_kick from a timer signal handler signals this very process only. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                           SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    /* The fds hypercall modules hold (ACCEL's agent socket): each module's own rules. */
    int *slot[HC_MAX_MODULES];
    unsigned mod[HC_MAX_MODULES];
    unsigned nfd = hc_fds((struct funk_vm *)vm, slot, mod, HC_MAX_MODULES); /* only reads */
    for (unsigned i = 0; i < nfd; i++)
        rc |= hc_fd_seccomp(mod[i], ctx, *slot[i]);
    return rc;
}
