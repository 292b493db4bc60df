/* SPDX-License-Identifier: Apache-2.0 */
/* Spawned KVM monitor: a launched process opens /dev/kvm and runs the guest's VM (funkd's KVM). */
#include <errno.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "chan.h"
#include "fdpass.h"
#include "vm_backend.h"
#include "vm_internal.h"

/*
 * Why: under the in-process KVM backend the library user (funkd) maps every guest's memory and
 * runs its vCPU loop in its own threads, so a guest that subverts the hypercall code is inside
 * funkd, and funkd's address space holds every tenant's guest memory. Here the library user
 * keeps only what the process backend keeps (the staged boot area and the ELF, the channel and
 * a pidfd: process_linux.c serves it, launcher.c starts it), and the guest's own process, started
 * from the clean launcher like a process guest, does the rest in child_main's order:
 *   1. fds moved to their numbers (channel 3, devices 4..), RLIMIT_AS, stdio on /dev/null;
 *   2. kvm_open (child_open, still as the started user): /dev/kvm, the VM, its vCPU and memory;
 *   3. uid/gid 65534 (when started as root), PDEATHSIG, rlimits (no user/IPC/UTS namespace:
 *      KVM's worker task made the process multi-threaded, which unshare(CLONE_NEWUSER) refuses);
 *   4. kvm_enter (child_enter): the ELF and the staged boot area copied into guest memory, page
 *      tables, vCPU registers, then this process's seccomp filter (default: kill the process,
 *      which the supervisor reports as exit 78), then KVM_RUN until the guest ends; function
 *      I/O and the console travel over the channel as for a process guest; CHAN_RESULT carries
 *      the exit (fault 70, triple fault 71, ... as in-process KVM reports them).
 * Kick and timeout: the supervisor kills the process by its pidfd (exit 75 when kicked).
 *
 * Snapshots: the template is such a process, run until the guest's first FN_RECV; it then
 * captures the pages the guest touched and the vCPU state in its own memory (kvm_x86_64.c's
 * snapshot, never in the library user) and serves CHAN_CMD_FORK like a process template. A VM
 * belongs to the process that created it, so each forked instance unmaps the template's guest
 * memory, creates a fresh VM, restores the captured state into it and continues that FN_RECV
 * on its own channel; one such instance is always forked ahead (the spare). The template's
 * filter additionally allows what that takes (clone, the KVM set-up ioctls, fd passing); each
 * instance stacks the process template's instance filter, which takes clone, fd passing, close,
 * prctl and seccomp away again. The template lives in its own pid namespace where the kernel
 * allows it, with PDEATHSIG.
 *
 * Ahead of need (launcher.c): a monitor process can be cloned before its request and build its
 * VM then (vm_kvm_spawn_prebuild); kvm_open adopts that VM.
 */

static int allow(scmp_filter_ctx ctx, int nr)
{
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static int allow_ioctl(scmp_filter_ctx ctx, unsigned long req)
{
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, req));
}

/* The monitor's filter: the in-process run loop's rules plus the channel (and, for a template,
 * what its forks need). A forbidden call kills the process: the supervisor reports exit 78. */
static int spawn_filter(struct funk_vm *vm)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx)
        return -ENOMEM;
    int rc = vm_kvm_filter_rules(vm, ctx);
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, SCMP_A0(SCMP_CMP_EQ, CHAN_FD));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, CHAN_FD));
    if (vm->snapshot_mode) {
        /* The snapshot itself (kvm_<arch>.c): the vCPU state and the touched pages. */
        for (unsigned i = 0; i < vm_backend_nsnap_ioctls; i++)
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
                                   SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->vcpu_fd),
                                   SCMP_A1(SCMP_CMP_EQ, vm_backend_snap_ioctls[i]));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mincore), 0);
        /* CHAN_CMD_FORK (process_linux.c template_loop): a plain fork with a pidfd, the
         * instance's channel in and its pidfd out, then the instance's stacked filter. */
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)(CLONE_PIDFD | SIGCHLD)));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 1,
                               SCMP_A0(SCMP_CMP_EQ, CHAN_FD));
        /* fd passing: the channel, and the socket to the spare instance (whose number varies;
         * the template holds no other socket) */
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 0);
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
                               SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
        rc |= allow(ctx, SCMP_SYS(pidfd_send_signal));
        /* dup2 onto the channel's number (the C library's dup2 is dup3 where the kernel has
         * no dup2, aarch64) */
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(dup2), 1, SCMP_A1(SCMP_CMP_EQ, CHAN_FD));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(dup3), 2, SCMP_A1(SCMP_CMP_EQ, CHAN_FD),
                               SCMP_A2(SCMP_CMP_EQ, 0));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                               SCMP_A0(SCMP_CMP_EQ, PR_SET_PDEATHSIG));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 1,
                               SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER));
        /* An instance's fresh VM (kvm_<arch>.c vm_kvm_shell_new and the restore), and its run
         * loop on a vCPU fd the rules above could not name in advance. */
        static const unsigned long setup[] = {KVM_CREATE_VM, KVM_SET_USER_MEMORY_REGION,
                                              KVM_CREATE_VCPU, KVM_GET_VCPU_MMAP_SIZE};
        for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++)
            rc |= allow_ioctl(ctx, setup[i]);
        for (unsigned i = 0; i < vm_backend_nrun_ioctls; i++)
            rc |= allow_ioctl(ctx, vm_backend_run_ioctls[i]);
        for (unsigned i = 0; i < vm_backend_nspawn_ioctls; i++)
            rc |= allow_ioctl(ctx, vm_backend_spawn_ioctls[i]);
    }
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc < 0 ? rc : (rc ? -EINVAL : 0);
}

/* ---- In the launched process ----------------------------------------------------------- */

static uint8_t *spawn_staging; /* the staged boot area, from the sealed image (launcher.c) */

static void __attribute__((noreturn)) spawn_fail(struct funk_vm *vm, const char *what, int rc)
{
    vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "kvm monitor process: %s: %s", what, strerror(-rc));
    vm_child_finish();
}

/* A VM built before this process got its guest (launcher.c's pre-built monitors): its fds sit
 * at PREBUILT_FD0.. (above child_main's moves, kept by it), mapped memory and vCPU page. */
#define PREBUILT_FD0 200
static struct {
    int ok;
    uint64_t mem_size;
    uint8_t *mem;
    struct kvm_run *run;
    size_t run_size;
} prebuilt;

int vm_kvm_spawn_prebuild(uint64_t mem_size)
{
    struct funk_vm tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.kvm_fd = tmp.vm_fd = tmp.vcpu_fd = -1;
    tmp.mem_size = mem_size;
    int rc = vm_kvm_shell_new(&tmp);
    if (rc)
        return rc;
    tmp.run->immediate_exit = 1; /* KVM's worker task, as in kvm_open */
    ioctl(tmp.vcpu_fd, KVM_RUN, 0);
    tmp.run->immediate_exit = 0;
    if (dup2(tmp.kvm_fd, PREBUILT_FD0) < 0 || dup2(tmp.vm_fd, PREBUILT_FD0 + 1) < 0 ||
        dup2(tmp.vcpu_fd, PREBUILT_FD0 + 2) < 0)
        return -errno;
    close(tmp.vm_fd);
    close(tmp.vcpu_fd); /* the /dev/kvm fd stays too: it is the process-wide one */
    prebuilt.ok = 1;
    prebuilt.mem_size = mem_size;
    prebuilt.mem = tmp.mem;
    prebuilt.run = tmp.run;
    prebuilt.run_size = tmp.run_size;
    return 0;
}

static int kvm_keep_fds(const struct funk_vm *vm, int *lo)
{
    (void)vm;
    *lo = PREBUILT_FD0;
    return prebuilt.ok ? 3 : 0;
}

/* child_open: still the started user (root for funkd): /dev/kvm, the VM, vCPU and memory. */
static void kvm_open(struct funk_vm *vm)
{
    spawn_staging = vm->staging;
    if (prebuilt.ok && prebuilt.mem_size == vm->mem_size) {
        vm->kvm_fd = PREBUILT_FD0;
        vm->vm_fd = PREBUILT_FD0 + 1;
        vm->vcpu_fd = PREBUILT_FD0 + 2;
        vm->mem = prebuilt.mem;
        vm->mem_base = 0;
        vm->mem_end = vm->mem_size;
        vm->run = prebuilt.run;
        vm->run_size = prebuilt.run_size;
        return;
    }
    int rc = vm_kvm_shell_new(vm);
    if (rc)
        spawn_fail(vm, "cannot create the VM", rc);
    /* The first KVM_RUN starts the VM's worker task (newer kernels: a task of this user, which
     * RLIMIT_NPROC 1 would refuse with EAGAIN forever): enter and leave at once, now. */
    vm->run->immediate_exit = 1;
    ioctl(vm->vcpu_fd, KVM_RUN, 0);
    vm->run->immediate_exit = 0;
}

/* ---- Snapshot template: instances forked ahead of need ---------------------------------- */

/* In a forked instance: the template's guest memory and vCPU page go, a fresh VM gets the
 * captured state (a VM belongs to the process that created it). Ends the process on failure. */
static void instance_vm(struct funk_vm *vm, struct funk_vm_snapshot *snap)
{
    munmap(vm->mem, vm->mem_size);
    munmap(vm->run, vm->run_size);
    vm->mem = NULL;
    vm->run = NULL;
    if (vm_kvm_shell_new(vm) != 0 || vm->ops->restore(vm, snap) != 0)
        _exit(FUNK_EXIT_SETUP);
    vm->run->immediate_exit = 1; /* KVM's worker task now, not on the call's path */
    ioctl(vm->vcpu_fd, KVM_RUN, 0);
    vm->run->immediate_exit = 0;
}

/*
 * The next instance, forked now: it builds its VM from the snapshot and waits on a socket to
 * the template (its CHAN_FD until then) for the channel a fork command brings; then it stacks
 * the instance filter and returns to run. The template keeps its end of that socket and its
 * pidfd. 0, or -1 when no spare could be started (the next command forks on the spot).
 */
static int spare_sock = -1, spare_pidfd = -1;

static int make_spare(struct funk_vm *vm, struct funk_vm_snapshot *snap)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    int pidfd = -1;
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_PIDFD | SIGCHLD), 0UL, &pidfd, 0UL, 0UL);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* the instance ends when its template does */
        dup2(sv[1], CHAN_FD);             /* the supervisor's channel is the template's only */
        close(sv[0]);
        close(sv[1]);
        instance_vm(vm, snap);
        uint32_t cmd = 0;
        int fd = -1, cut;
        unsigned nfd;
        ssize_t n = fdpass_recv(CHAN_FD, &cmd, sizeof cmd, 0, &fd, 1, &nfd, &cut);
        if (n != sizeof cmd || cmd != CHAN_CMD_FORK || nfd != 1 || cut)
            _exit(0); /* the template is gone, or it keeps us no longer */
        dup2(fd, CHAN_FD);
        close(fd);
        if (vm_child_instance_start() != 0)
            _exit(FUNK_EXIT_SETUP);
        return 1;
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return -1;
    }
    spare_sock = sv[0];
    spare_pidfd = pidfd;
    return 0;
}

/* Serves CHAN_CMD_FORK as a process template does (the answer: CHAN_FORKED with the new
 * instance's pidfd, the kernel's word), handing each command's channel to the spare forked
 * ahead; returns in the instance. */
static void template_loop(struct funk_vm *vm, struct funk_vm_snapshot *snap)
{
    struct chan_hdr h = {CHAN_MAGIC, CHAN_VERSION, CHAN_TEMPLATE, 0};
    if (write(CHAN_FD, &h, sizeof h) != (ssize_t)sizeof h)
        _exit(0);
    if (make_spare(vm, snap) > 0)
        return;
    for (;;) {
        uint32_t cmd = 0;
        int fd = -1, cut;
        unsigned nfd;
        ssize_t n = fdpass_recv(CHAN_FD, &cmd, sizeof cmd, 0, &fd, 1, &nfd, &cut);
        if (n != sizeof cmd || cmd != CHAN_CMD_FORK || nfd != 1 || cut)
            _exit(0); /* CHAN_CMD_EXIT or the supervisor is gone */
        int pidfd = -1;
        for (int tries = 0; tries < 2 && pidfd < 0; tries++) {
            if (spare_pidfd < 0 && make_spare(vm, snap) > 0)
                return;
            if (spare_pidfd < 0)
                break;
            if (fdpass_send(spare_sock, &cmd, sizeof cmd, &fd, 1) == (ssize_t)sizeof cmd) {
                pidfd = spare_pidfd;
            } else {
                syscall(SYS_pidfd_send_signal, spare_pidfd, SIGKILL, NULL, 0); /* it died */
                close(spare_pidfd);
            }
            close(spare_sock);
            spare_sock = spare_pidfd = -1;
        }
        close(fd);
        struct chan_hdr f = {CHAN_MAGIC, CHAN_VERSION, CHAN_FORKED, 0};
        fdpass_send(CHAN_FD, &f, sizeof f, &pidfd, pidfd >= 0 ? 1 : 0); /* an answer all the same */
        if (pidfd >= 0)
            close(pidfd);
        if (make_spare(vm, snap) > 0)
            return;
    }
}

/* child_enter: the guest into the VM, the filter, and the run; never returns. */
static void __attribute__((noreturn)) kvm_enter(struct funk_vm *vm)
{
    vm->ops = &vm_kvm_ops; /* from here on this process is an in-process KVM monitor */
    vm->mem_written = true;
    elf_copy(&vm->img, vm->elf_copy, vm->mem, true);
    vm->img.host_ro = !vm->funk_guest;
    int rc = vm_backend_mem_setup(vm);
    if (rc)
        spawn_fail(vm, "page tables", rc);
    memcpy(vm->mem + PROCESS_MEM_BASE, spawn_staging, PROCESS_STAGING_END - PROCESS_MEM_BASE);
    /* The TSC rate only this process knows (the supervisor staged 0). */
    uint64_t hz = vm_backend_tsc_freq();
    memcpy(vm->mem + HVT_BOOT_INFO_GPA + offsetof(struct hvt_boot_info, cpu_cycle_freq), &hz,
           sizeof hz);
    if (vm->img.host_ro && (rc = vm_protect_kernel(vm)) != 0)
        spawn_fail(vm, "read-only kernel pages", rc);
    if ((rc = vm_backend_boot(vm)) != 0)
        spawn_fail(vm, "vCPU set-up", rc);
    if (vm->snapshot_mode) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(SIGCHLD, &ign, NULL); /* instances are reaped by the kernel */
    }
    if ((rc = spawn_filter(vm)) != 0)
        spawn_fail(vm, "seccomp", rc);
    if (vm->snapshot_mode) {
        struct funk_vm_snapshot *snap = NULL;
        rc = vm->ops->snapshot_new(vm, &snap); /* runs to the first FN_RECV */
        if (rc == -ECHILD)
            vm_child_finish(); /* it ended before: vm->res says how */
        if (rc)
            spawn_fail(vm, "snapshot", rc);
        template_loop(vm, snap); /* returns in each instance, on its own channel */
    }
    vm->ops->run(vm);
    vm_child_finish();
}

/* ---- Supervisor side: the process backend's, with KVM's image rules -------------------- */

static int spawn_place(struct funk_vm *vm, const void *elf, size_t elf_len)
{
    if (vm->img.spt)
        return vm_load_error(vm, -ENOTSUP,
                             "a Solo5 spt guest (ABI1 target spt) runs under the process backend "
                             "(--isolation=process), not KVM");
    return vm_process_place(vm, elf, elf_len);
}

static uint64_t spawn_cycle_freq(void)
{
    return 0; /* filled in by the monitor process, which has the vCPU */
}

static uint64_t spawn_hypercall_entry(void)
{
    return vm_backend_hc_stub();
}

static int spawn_boot(struct funk_vm *vm)
{
    (void)vm; /* the vCPU is set up in the monitor process; plain Solo5 hvt guests run too */
    return 0;
}

const struct vm_backend_ops vm_kvm_spawn_ops = {
    .name = "kvm-spawn",
    .isolation = FUNK_ISOLATION_KVM,
    .shell_new = vm_process_shell_new,
    .place = spawn_place,
    .cycle_freq = spawn_cycle_freq,
    .hypercall_entry = spawn_hypercall_entry,
    .boot = spawn_boot,
    .run = vm_process_run,
    .kick = vm_process_kick,
    .release = vm_process_release,
    .child_open = kvm_open,
    .child_enter = kvm_enter,
    .child_keep_fds = kvm_keep_fds,
    .snapshot_new = vm_process_snapshot_new,
    .restore = vm_process_restore,
    .snapshot_delete = vm_process_snapshot_delete,
};
