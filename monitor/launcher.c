/* SPDX-License-Identifier: Apache-2.0 */
/* Process backend: the clean launcher that starts every guest process (never the library user). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "chan.h"
#include "fdpass.h"
#include "vm_backend.h"
#include "vm_internal.h"

/*
 * Why: a guest forked from funkd (or funk-runtime, the watchdog) holds a copy of its memory
 * (other tenants' secrets, the API password) and its shared mappings (other VMs' kvm_run pages,
 * the SQLite WAL index). So on first use the library starts a launcher: the library user's own
 * binary (/proc/self/exe) exec'd as argv[0] "funk-launcher" with an empty environment, fds 0/1
 * on /dev/null, its stderr, and one SOCK_SEQPACKET control socket at fd 3; a constructor in
 * this file takes over before main() runs. It never receives tenant data except the one guest
 * it is starting, and keeps nothing of it: per guest the library sends one request (struct
 * launch_req) with, in SCM_RIGHTS, a sealed memfd holding the prepared boot area and the ELF
 * (F_SEAL_WRITE|SHRINK|GROW|SEAL: nobody can change pages the guest copies), the guest's
 * channel and its device fds. The launcher clones the guest with CLONE_PARENT (the library user
 * stays its parent and reaps it) and CLONE_PIDFD, answers with the pidfd, and forgets it. The
 * guest (in the clone) maps the memfd, rebuilds its struct funk_vm, closes every other fd,
 * installs its filter and jumps (process_linux.c child_main). A snapshot template is also
 * cloned with CLONE_NEWPID where the kernel allows it: it is init of its own pid namespace, so
 * all it (or its instances) forked dies with it.
 *
 * The launcher is spawned by a thread of the library user that does nothing else and never
 * exits, so PR_SET_PDEATHSIG in the launcher and in every guest (their parent thread is that
 * one) fires only when the library user's process ends. The launcher also exits when its
 * control socket closes.
 *
 * A library user that later chroots, changes its user or drops its capabilities (funk-runtime
 * in its container) starts the launcher first with funk_vm_process_prepare(root_fd, uid, gid):
 * it is spawned with argv[2] "prepared", its working directory at root_fd and argv[3] "chroot"
 * (else "-"), argv[4] "UID:GID"; it chroots there, becomes that user with no supplementary
 * groups and drops every capability. Its guests then see the caller's root and run as the
 * caller's user: the caller (without CAP_KILL) can still kill them, and they hold nothing of
 * its memory.
 */

#define LAUNCHER_ARGV0 "funk-launcher"
#define LAUNCHER_FD 3
#define LAUNCH_MAGIC 0x4c4b4e46u /* "FNKL" */
#define LAUNCH_VERSION 2u
#define LAUNCH_MAX_FDS (2 + 1 + MFT_MAX_ENTRIES + HC_MAX_MODULES + VM_CGROUP_MAX)
_Static_assert(LAUNCH_MAX_FDS <= FDPASS_MAX, "a launch request's fds fit one message");

struct launch_dev {
    int32_t fd_index; /* into the SCM_RIGHTS array, -1 when not attached */
    uint32_t type;
    uint64_t capacity;
    uint16_t block_size;
    uint32_t frame_max;
};

struct launch_req {
    uint32_t magic, version;
    uint64_t mem_size;
    uint32_t flags;
    uint32_t snapshot; /* a template: CLONE_NEWPID where allowed */
    uint32_t kvm;        /* a spawned KVM monitor (kvm_spawn.c), else a process guest */
    uint32_t funk_guest; /* kvm: the guest has a funk note (else plain Solo5 hvt) */
    int32_t owner;     /* the library user's pid (the guest's parent) */
    uint32_t nfds;     /* memfd, channel, then devices */
    uint64_t staging_len, elf_len;
    /* A cached program image (a Linux guest's, linux_elf.c): its own sealed memfd of image_len
     * bytes, the first elf_len bytes of the image; the memfd then holds the boot area and the
     * rest (the bundle). -1: everything is in the one memfd. */
    int32_t image_fd_index;
    uint64_t image_len;
    struct elf_image img;
    uint32_t ndev;
    struct launch_dev dev[MFT_MAX_ENTRIES];
    /* Hypercall-module fds (ACCEL's agent connection): which module, which fd index. */
    uint32_t nmfd;
    uint32_t mfd_module[HC_MAX_MODULES];
    int32_t mfd_index[HC_MAX_MODULES];
    uint32_t ncg; /* the guest's cgroup directories (cgroup.c), joined first */
    int32_t cg_fd_index[VM_CGROUP_MAX];
};

struct launch_reply {
    int32_t rc;     /* 0 with the pidfd in SCM_RIGHTS, or -errno */
    uint32_t stale; /* 1: the last fd is the pidfd of a killed pre-built KVM monitor to reap */
};

/* ---- Launcher side (a fresh exec; single-threaded) -------------------------------------- */

static void __attribute__((noreturn)) launched_child(const struct launch_req *q, int *fds)
{
    /* Into the guest's own cgroup before anything else, with the launcher's credentials: from
     * here on everything this process and its children use is counted against its limits. */
    int cgfd[VM_CGROUP_MAX];
    for (unsigned i = 0; i < q->ncg; i++)
        cgfd[i] = fds[q->cg_fd_index[i]];
    if (vm_cgroup_join(cgfd, (int)q->ncg) != 0)
        _exit(FUNK_EXIT_SETUP);
    for (unsigned i = 0; i < q->ncg; i++)
        close(cgfd[i]);
    /* The guest process: rebuild this guest's struct funk_vm from the request. */
    size_t map_len = q->staging_len + q->elf_len;
    uint8_t *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fds[0], 0);
    if (m == MAP_FAILED)
        _exit(FUNK_EXIT_SETUP);
    if (q->image_fd_index >= 0) {
        /* the cached image in the middle, the rest of the memfd after it: the same layout */
        size_t rest = q->elf_len - q->image_len;
        if (mmap(m + q->staging_len, q->image_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                 fds[q->image_fd_index], 0) == MAP_FAILED ||
            (rest && mmap(m + q->staging_len + q->image_len, rest, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_FIXED, fds[0], (off_t)q->staging_len) == MAP_FAILED))
            _exit(FUNK_EXIT_SETUP);
        close(fds[q->image_fd_index]);
    }
    close(fds[0]);
    struct funk_vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        _exit(FUNK_EXIT_SETUP);
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
    vm->ops = q->kvm ? &vm_kvm_spawn_ops : &vm_process_ops;
    vm->backend = vm->ops->isolation;
    vm->flags = q->flags;
    vm->mem_size = q->mem_size;
    vm->staging = m;
    vm->mem = m;
    vm->mem_base = PROCESS_MEM_BASE;
    vm->mem_end = PROCESS_STAGING_END;
    vm->elf_copy = m + q->staging_len;
    vm->elf_len = q->elf_len;
    vm->child_pid = vm->child_pidfd = vm->restored_fd = -1;
    vm->snapshot_mode = q->snapshot != 0;
    vm->launched = q->owner;
    vm->loaded = true;
    vm->funk_guest = q->kvm ? q->funk_guest != 0 : true;
    vm->img = q->img;
    vm->ndev = q->ndev;
    for (unsigned i = 0; i < MFT_MAX_ENTRIES; i++) {
        vm->dev[i].fd = i < q->ndev && q->dev[i].fd_index >= 0 ? fds[q->dev[i].fd_index] : -1;
        vm->dev[i].type = q->dev[i].type;
        vm->dev[i].capacity = q->dev[i].capacity;
        vm->dev[i].block_size = q->dev[i].block_size;
        vm->dev[i].frame_max = q->dev[i].frame_max;
    }
    /* Each module takes over the fd the library user opened for it (ACCEL: its connection
     * to funk-accel-agent; no plugin ever runs in a guest's process). */
    for (unsigned i = 0; i < q->nmfd; i++)
        if (hc_fd_adopt(vm, q->mfd_module[i], fds[q->mfd_index[i]]) != 0)
            _exit(FUNK_EXIT_SETUP);
    if (hc_setup(vm) != 0) /* the dispatch table of this fresh process */
        _exit(FUNK_EXIT_SETUP);
    vm_process_child_start(vm, fds[1]);
}

/*
 * KVM monitors built ahead of need: after a KVM launch the launcher clones one more monitor
 * process (CLONE_PARENT like every guest) that builds a VM of that memory size right away
 * (kvm_spawn.c vm_kvm_spawn_prebuild: /dev/kvm, VM, vCPU, memory, KVM's worker task) and then
 * waits on a socket; the next KVM launch of that size hands it the request and its fds instead
 * of cloning, so the VM's creation (~0.6 ms here) is off the call's path. It holds no tenant
 * data until its request. Not for snapshot templates (their own pid namespace). One whose size
 * no longer matches is killed; the library user, its parent, reaps it (launch_reply.stale).
 */
static int warm_sock = -1, warm_pidfd = -1, warm_off;
static uint64_t warm_mem;

static void warm_drop(int *stale)
{
    if (warm_pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, warm_pidfd, SIGKILL, NULL, 0);
        *stale = warm_pidfd;
    }
    if (warm_sock >= 0)
        close(warm_sock);
    warm_sock = warm_pidfd = -1;
}

static void warm_start(uint64_t mem_size)
{
    int sv[2], pidfd = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return;
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_PARENT | CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid == 0) {
        close(sv[0]);
        close(LAUNCHER_FD);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (vm_kvm_spawn_prebuild(mem_size) != 0)
            _exit(0);
        struct launch_req q;
        int fds[LAUNCH_MAX_FDS], cut;
        unsigned nfds;
        /* the launcher validated the request before it passed it on */
        ssize_t n = fdpass_recv(sv[1], &q, sizeof q, MSG_CMSG_CLOEXEC, fds, LAUNCH_MAX_FDS, &nfds,
                                &cut);
        if (n != (ssize_t)sizeof q || cut || q.nfds != nfds)
            _exit(0);
        close(sv[1]);
        launched_child(&q, fds);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return;
    }
    warm_sock = sv[0];
    warm_pidfd = pidfd;
    warm_mem = mem_size;
}

static int launch_one(int ctl)
{
    struct launch_req q;
    int fds[LAUNCH_MAX_FDS], cut;
    unsigned nfds;
    ssize_t n = fdpass_recv(ctl, &q, sizeof q, MSG_CMSG_CLOEXEC, fds, LAUNCH_MAX_FDS, &nfds, &cut);
    if (n <= 0)
        return -1; /* the library user is gone */
    struct launch_reply r = {0};
    int ok = n == (ssize_t)sizeof q && !cut &&
             q.magic == LAUNCH_MAGIC && q.version == LAUNCH_VERSION && q.nfds == nfds &&
             nfds >= 2 && q.ndev <= MFT_MAX_ENTRIES && q.img.nseg <= ELF_MAX_LOADS &&
             q.staging_len == PROCESS_STAGING_END - PROCESS_MEM_BASE && q.nmfd <= HC_MAX_MODULES &&
             q.image_fd_index < (int32_t)nfds && q.image_fd_index != 0 && q.image_fd_index != 1 &&
             (q.image_fd_index < 0 || (q.image_len <= q.elf_len && q.image_len % 4096 == 0 &&
                                       q.staging_len % 4096 == 0));
    for (unsigned i = 0; ok && i < q.ndev; i++)
        ok = q.dev[i].fd_index < (int32_t)nfds && q.dev[i].fd_index != 0 && q.dev[i].fd_index != 1;
    for (unsigned i = 0; ok && i < q.nmfd; i++)
        ok = q.mfd_index[i] > 1 && q.mfd_index[i] < (int32_t)nfds;
    ok = ok && q.ncg <= VM_CGROUP_MAX;
    for (unsigned i = 0; ok && i < q.ncg; i++)
        ok = q.cg_fd_index[i] >= 2 && q.cg_fd_index[i] < (int32_t)nfds;
    int pidfd = -1, stale = -1;
    int warm = ok && q.kvm && !q.snapshot && !warm_off;
    if (warm && warm_pidfd >= 0 && warm_mem != q.mem_size)
        warm_drop(&stale); /* built for another size */
    if (warm && warm_pidfd >= 0) {
        if (fdpass_send(warm_sock, &q, sizeof q, fds, nfds) == (ssize_t)sizeof q) {
            pidfd = warm_pidfd; /* it takes this request */
            warm_pidfd = -1;
            close(warm_sock);
            warm_sock = -1;
        } else {
            warm_drop(&stale); /* it died building its VM: no more of them here */
            warm_off = 1;
        }
    }
    if (!ok) {
        r.rc = -EPROTO;
    } else if (pidfd < 0) {
        struct clone_args ca;
        memset(&ca, 0, sizeof ca);
        ca.flags = CLONE_PARENT | CLONE_PIDFD;
        ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
        ca.exit_signal = 0; /* CLONE_PARENT: the launcher's own exit signal (SIGCHLD) */
        long pid = -1;
        if (q.snapshot) {
            static int newpid_ok = 1;
            ca.flags |= CLONE_NEWPID;
            if (newpid_ok) {
                pid = syscall(SYS_clone3, &ca, sizeof ca);
                if (pid < 0 && errno == EPERM)
                    newpid_ok = 0; /* not allowed here: the template's PDEATHSIG still holds */
            }
            ca.flags &= ~(uint64_t)CLONE_NEWPID;
            if (!newpid_ok && pid < 0)
                pid = syscall(SYS_clone3, &ca, sizeof ca);
        } else {
            pid = syscall(SYS_clone3, &ca, sizeof ca);
        }
        if (pid == 0)
            launched_child(&q, fds);
        r.rc = pid < 0 ? -errno : 0;
    }
    for (unsigned i = 0; i < nfds; i++)
        close(fds[i]);
    int out[2];
    unsigned nout = 0;
    if (pidfd >= 0)
        out[nout++] = pidfd;
    if (stale >= 0) {
        out[nout++] = stale;
        r.stale = 1;
    }
    fdpass_send(ctl, &r, sizeof r, out, nout);
    for (unsigned i = 0; i < nout; i++)
        close(out[i]);
    if (warm && warm_pidfd < 0 && !warm_off)
        warm_start(q.mem_size); /* the next one, after the answer */
    return 0;
}

/* Runs before main() in every program that links the process backend: when this process is a
 * launcher, it serves its control socket and exits, and main() never runs. */
__attribute__((constructor)) static void launcher_ctor(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc < 1 || !argv || !argv[0] || strcmp(argv[0], LAUNCHER_ARGV0) != 0)
        return;
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(LAUNCHER_FD, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_SEQPACKET)
        return;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (argc >= 2 && getppid() != (pid_t)atol(argv[1]))
        _exit(0); /* the library user ended before we could watch it */
    if (argc >= 5 && strcmp(argv[2], "prepared") == 0) {
        /* funk_vm_process_prepare: our cwd (set by the spawn) is the caller's root-to-be when
         * argv[3] is "chroot"; argv[4] "UID:GID" is the user the caller is about to become. */
        if (strcmp(argv[3], "chroot") == 0 && (chroot(".") != 0 || chdir("/") != 0))
            _exit(1);
        char *end;
        long uid = strtol(argv[4], &end, 10), gid = *end == ':' ? strtol(end + 1, &end, 10) : -1;
        if (*end || uid < 0 || gid < 0)
            _exit(1);
        for (int c = 0; c <= CAP_LAST_CAP; c++)
            prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
        /* The caller's user, so the caller can kill our guests without CAP_KILL (it drops every
         * capability); no supplementary groups. */
        if ((getuid() != (uid_t)uid || getgid() != (gid_t)gid ||
             (geteuid() == 0 && getgroups(0, NULL) > 0)) &&
            (setgroups(0, NULL) != 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0 ||
             setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0))
            _exit(1);
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof d);
        if (syscall(SYS_capset, &h, d) != 0)
            _exit(1);
        /* A credential change cleared the parent-death signal. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != (pid_t)atol(argv[1]))
            _exit(0);
    }
    prctl(PR_SET_NAME, LAUNCHER_ARGV0, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    while (launch_one(LAUNCHER_FD) == 0)
        ;
    _exit(0);
}

/* ---- Library side ----------------------------------------------------------------------- */

static pthread_mutex_t lmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lcv = PTHREAD_COND_INITIALIZER;
static int lfd = -1;   /* control socket to the launcher */
static pid_t lowner;   /* the process that started it (a fork must start its own) */
static int lstate;     /* 0 none, 1 starting, 2 up, <0 -errno */
static int lserved;    /* the launcher has answered a request (it can run here) */
static int lbroken;    /* it cannot run in this process (e.g. after a chroot) */
static int lprep;      /* funk_vm_process_prepare was called: the launcher takes... */
static int lroot = -1; /* ...this root (chroot; -1: none) */
static char lcred[48]; /* ...and this "UID:GID" */

/* The launcher's parent: spawns it, then waits forever (see the comment at the top). */
static void *launcher_parent(void *arg)
{
    (void)arg;
    int sv[2];
    int rc = 0;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        rc = -errno;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char owner[24];
    snprintf(owner, sizeof owner, "%ld", (long)getpid());
    char *const argv[] = {
        LAUNCHER_ARGV0, owner, lprep ? "prepared" : NULL, lroot >= 0 ? "chroot" : "-", lcred, NULL};
    char *const envp[] = {NULL};
    if (rc == 0) {
        posix_spawn_file_actions_init(&fa);
        if (lroot >= 0)
            posix_spawn_file_actions_addfchdir_np(&fa, lroot);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, sv[1], LAUNCHER_FD);
        posix_spawn_file_actions_addclosefrom_np(&fa, LAUNCHER_FD + 1);
        rc = -posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        close(sv[1]);
        if (rc)
            close(sv[0]);
    }
    pthread_mutex_lock(&lmu);
    if (rc == 0) {
        lfd = sv[0];
        lowner = getpid();
        lstate = 2;
    } else {
        lstate = rc;
    }
    pthread_cond_broadcast(&lcv);
    pthread_mutex_unlock(&lmu);
    if (rc)
        return NULL;
    /* Stay: the launcher's and every guest's PDEATHSIG watch this thread. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;)
        pause();
}

static int launcher_fd(void)
{
    pthread_mutex_lock(&lmu);
    if (lstate == 2 && lowner != getpid()) {
        lstate = 0; /* we are a fork of the process that started it */
        lfd = -1;
    }
    if (lstate == 0) {
        lstate = 1;
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 64 << 10);
        int rc = pthread_create(&t, &a, launcher_parent, NULL);
        pthread_attr_destroy(&a);
        if (rc) {
            lstate = 0;
            pthread_mutex_unlock(&lmu);
            return -rc;
        }
    }
    while (lstate == 1) /* another thread is starting it */
        pthread_cond_wait(&lcv, &lmu);
    int fd = lstate == 2 ? lfd : lstate;
    if (lstate < 0)
        lstate = 0; /* try again next time */
    pthread_mutex_unlock(&lmu);
    return fd;
}

int funk_vm_process_prepare(int root_fd, long uid, long gid)
{
    if (uid < 0 || gid < 0 || uid > (long)UINT32_MAX - 1 || gid > (long)UINT32_MAX - 1)
        return -EINVAL;
    pthread_mutex_lock(&lmu);
    int started = lstate != 0 && lowner == getpid();
    if (!started) {
        if (lroot >= 0)
            close(lroot);
        lroot = root_fd >= 0 ? fcntl(root_fd, F_DUPFD_CLOEXEC, 3) : -1;
        if (root_fd >= 0 && lroot < 0) {
            int e = -errno;
            pthread_mutex_unlock(&lmu);
            return e;
        }
        snprintf(lcred, sizeof lcred, "%ld:%ld", uid, gid);
        lprep = 1;
    }
    pthread_mutex_unlock(&lmu);
    int ctl = launcher_fd();
    if (ctl < 0)
        return ctl;
    /* A request it refuses (too short) is answered -EPROTO: proof it runs and serves here. */
    uint32_t ping = 0;
    struct launch_reply r = {0};
    pthread_mutex_lock(&lmu);
    ssize_t n = send(ctl, &ping, sizeof ping, MSG_NOSIGNAL), m = -1;
    if (n == (ssize_t)sizeof ping)
        while ((m = recv(ctl, &r, sizeof r, 0)) < 0 && errno == EINTR)
            ;
    int rc = m == (ssize_t)sizeof r && r.rc == -EPROTO ? 0 : -ECHILD;
    if (rc == 0) {
        lserved = 1;
    } else if (lfd == ctl) {
        close(lfd);
        lfd = -1;
        lstate = 0;
    }
    pthread_mutex_unlock(&lmu);
    return rc;
}

/* One memfd with the boot area and the ELF, sealed so no one can change it any more. */
static int make_image_fd(const struct funk_vm *vm, size_t staging_len)
{
    int fd = memfd_create("funk-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    const uint8_t *parts[2] = {vm->staging, vm->elf_copy};
    size_t lens[2] = {staging_len, vm->elf_len};
    int rc = 0;
    if (ftruncate(fd, (off_t)(staging_len + vm->elf_len)) != 0)
        rc = -errno;
    off_t off = 0;
    for (int i = 0; rc == 0 && i < 2; i++) {
        size_t done = 0;
        while (done < lens[i]) {
            ssize_t w = pwrite(fd, parts[i] + done, lens[i] - done, off + (off_t)done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = -EIO;
                break;
            }
            done += (size_t)w;
        }
        off += (off_t)lens[i];
    }
    if (rc == 0 &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        rc = -errno;
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}

/* The hypercall modules' fds go along, each named by its module (the launcher knows none). */
static void launch_module_fds(struct funk_vm *vm, struct launch_req *q, int *fds, unsigned *nfds)
{
    int *slot[HC_MAX_MODULES];
    unsigned mod[HC_MAX_MODULES];
    unsigned n = hc_fds(vm, slot, mod, HC_MAX_MODULES);
    for (unsigned i = 0; i < n; i++) {
        q->mfd_module[i] = mod[i];
        q->mfd_index[i] = (int32_t)*nfds;
        fds[(*nfds)++] = *slot[i];
    }
    q->nmfd = n;
}

int vm_launch(struct funk_vm *vm, int *chan_out, int *pidfd_out)
{
    if (lbroken)
        return VM_LAUNCH_UNAVAILABLE;
    int ctl = launcher_fd();
    if (ctl < 0) {
        lbroken = 1; /* /proc/self/exe cannot be spawned here */
        return VM_LAUNCH_UNAVAILABLE;
    }
    struct launch_req q;
    memset(&q, 0, sizeof q);
    q.magic = LAUNCH_MAGIC;
    q.version = LAUNCH_VERSION;
    q.mem_size = vm->mem_size;
    q.flags = vm->flags;
    q.snapshot = (uint32_t)vm->snapshot_mode;
    q.kvm = vm->ops == &vm_kvm_spawn_ops;
    q.funk_guest = vm->funk_guest;
    q.owner = (int32_t)getpid();
    q.staging_len = PROCESS_STAGING_END - PROCESS_MEM_BASE;
    q.elf_len = vm->image_len + vm->elf_len;
    q.image_fd_index = -1;
    q.image_len = vm->image_len;
    q.img = vm->img;
    q.ndev = vm->ndev;
    int fds[LAUNCH_MAX_FDS];
    unsigned nfds = 0;
    int img = make_image_fd(vm, q.staging_len);
    if (img < 0)
        return img;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = -errno;
        close(img);
        return e;
    }
    fds[nfds++] = img;
    fds[nfds++] = sv[1];
    if (vm->image_fd1 > 0) {
        q.image_fd_index = (int32_t)nfds;
        fds[nfds++] = vm->image_fd1 - 1;
    }
    for (unsigned i = 0; i < vm->ndev && i < MFT_MAX_ENTRIES; i++) {
        q.dev[i].fd_index = vm->dev[i].fd >= 0 ? (int32_t)nfds : -1;
        if (vm->dev[i].fd >= 0)
            fds[nfds++] = vm->dev[i].fd;
        q.dev[i].type = vm->dev[i].type;
        q.dev[i].capacity = vm->dev[i].capacity;
        q.dev[i].block_size = vm->dev[i].block_size;
        q.dev[i].frame_max = vm->dev[i].frame_max;
    }
    launch_module_fds(vm, &q, fds, &nfds);
    /* The guest's cgroup: its limits, or the defaults of funk_vm_set_limits. */
    struct funk_vm_limits lim = vm->limits;
    /* A template's cgroup also holds all its instances (its children): no default memory
     * limit there (each instance is bounded by its guest memory), only the caller's. */
    if (!lim.memory_bytes && !vm->snapshot_mode)
        lim.memory_bytes = vm->mem_size + ((uint64_t)64 << 20);
    /* a spawned KVM monitor: KVM's own worker task joins its process's cgroups too */
    if (!lim.pids)
        lim.pids = vm->snapshot_mode ? 4096 : vm->ops == &vm_kvm_spawn_ops ? 8 : 1;
    vm_cgroup_destroy(&vm->cg); /* a previous run's, if it was never reaped */
    int cgrc = vm_cgroup_create(&lim, &vm->cg);
    if (cgrc) {
        close(img);
        close(sv[0]);
        close(sv[1]);
        snprintf(vm->err, sizeof vm->err, "cgroup for the guest: %s", strerror(-cgrc));
        vm_log(vm, "%s", vm->err);
        return cgrc;
    }
    q.ncg = (uint32_t)vm->cg.n;
    for (int i = 0; i < vm->cg.n; i++) {
        q.cg_fd_index[i] = (int32_t)nfds;
        fds[nfds++] = vm->cg.dirfd[i];
    }
    q.nfds = nfds;
    struct launch_reply r = {-EIO, 0};
    int pidfd = -1, got[2] = {-1, -1}, cut = 0;
    unsigned npid = 0;
    /* One request, one answer: the launcher serves them in order, one at a time. */
    pthread_mutex_lock(&lmu);
    ssize_t n = fdpass_send(ctl, &q, sizeof q, fds, nfds);
    ssize_t m = -1;
    if (n == (ssize_t)sizeof q)
        m = fdpass_recv(ctl, &r, sizeof r, MSG_CMSG_CLOEXEC, got, 2, &npid, &cut);
    if (n < 0 || m <= 0) {
        /* The launcher is gone: the next call starts a new one. */
        if (lfd == ctl) {
            close(lfd);
            lfd = -1;
            lstate = 0;
        }
        if (!lserved)
            lbroken = 1; /* it died before its first answer: it cannot run here */
    } else if (m == (ssize_t)sizeof r) {
        lserved = 1;
    }
    int broken = lbroken;
    pthread_mutex_unlock(&lmu);
    if (broken) {
        close(img);
        close(sv[0]);
        close(sv[1]);
        return VM_LAUNCH_UNAVAILABLE;
    }
    close(img);
    close(sv[1]);
    if (m == (ssize_t)sizeof r && r.stale && npid >= 1) {
        vm_reap_pidfd(got[npid - 1]); /* a killed pre-built monitor: our child, reaped */
        npid--;
    }
    pidfd = npid == 1 ? got[0] : -1;
    for (unsigned i = 0; npid > 1 && i < npid; i++)
        close(got[i]); /* not what the protocol says */
    if (m != (ssize_t)sizeof r || cut || r.rc != 0 || pidfd < 0) {
        if (pidfd >= 0)
            close(pidfd);
        close(sv[0]);
        return m == (ssize_t)sizeof r && r.rc ? r.rc : -ECHILD;
    }
    *chan_out = sv[0];
    *pidfd_out = pidfd;
    return 0;
}
