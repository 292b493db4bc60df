/* SPDX-License-Identifier: Apache-2.0 */
/* Process backend (Linux): the guest runs natively in a fresh, seccomp-sandboxed child process. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <ucontext.h>
#include <unistd.h>

#include "chan.h"
#include "fdpass.h"
#include "process_arch.h"
#include "process_filter.h"
#include "vm_backend.h"
#include "vm_internal.h"
#include "process_filter_nodev.h"
#include "linux.h"

/*
 * The child maps guest memory at the guest's own addresses (PROCESS_MEM_BASE .. mem_size),
 * copies the segments there, and jumps to the entry with %rdi = boot info, like KVM. The guest
 * calls funk_boot_info.hypercall = process_entry(), a host function in the same process that
 * serves the call through the same module table (hc_dispatch) as KVM. Function I/O and the
 * console travel over a socketpair to the parent, which owns the library user's callbacks.
 * CPU faults arrive as signals and are reported in the KVM wording; a forbidden system call
 * raises SIGSYS (seccomp TRAP) and is reported as a sandbox violation.
 */

static int write_full(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t r = write(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EIO;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static int read_full(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EIO;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_msg(int fd, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    struct chan_hdr h = {CHAN_MAGIC, CHAN_VERSION, (uint8_t)type, (uint32_t)(alen + blen)};
    if (write_full(fd, &h, sizeof h) || (alen && write_full(fd, a, alen)) ||
        (blen && write_full(fd, b, blen)))
        return -EIO;
    return 0;
}

/* The guest process's uid/gid when the library user is root (nobody/nogroup on Debian). */
#define GUEST_UID 65534
#define GUEST_GID 65534

/* ---- Child side -------------------------------------------------------------------------- */

static struct funk_vm *child_vm;
static struct sock_fprog child_prog; /* set by the parent just before fork */
static int filter_bpf(const struct funk_vm *vm, struct sock_fprog *out);
static int instance_filter(void);
static int reap_child(struct funk_vm *vm);
static struct funk_vm_result child_res;

/*
 * The child must never touch the heap (malloc/free/stdio buffers): it is forked from
 * multi-threaded funkd, and a lock another thread held at the fork stays held forever in the
 * child. glibc's malloc re-initialises its locks after fork, but the sanitizer allocator of
 * ASan builds (GCC 12's libasan) does not: a child whose thread cache needed a refill hung in
 * SizeClassAllocator64::GetFromAllocator on a region mutex, with the call handed to it. So the
 * request buffer is its own mapping (mmap/munmap are plain system calls).
 */
static uint8_t *child_req_buf;
static size_t child_req_cap;

static uint8_t *child_req_reserve(size_t len)
{
    if (len <= child_req_cap)
        return child_req_buf;
    size_t cap = (len + 4095) & ~(size_t)4095;
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (child_req_buf)
        munmap(child_req_buf, child_req_cap);
    child_req_buf = p;
    child_req_cap = cap;
    return child_req_buf;
}

/* Functions that run on the guest's stack or a signal stack and end the process are not
 * ASan-instrumented: its no-return hook would inspect the "switched" stack via /proc, which the
 * sandbox forbids. */
#define NO_ASAN __attribute__((no_sanitize("address")))

static NO_ASAN void __attribute__((noreturn)) child_finish(void)
{
    struct chan_result r = {.exit = child_res.exit,
                           .status = child_res.status,
                           .hypercalls = child_res.hypercalls,
                           .first_hypercall_ns = child_res.first_hypercall_ns};
    memcpy(r.reason, child_res.reason, sizeof r.reason);
    send_msg(CHAN_FD, CHAN_RESULT, &r, sizeof r, NULL, 0);
    _exit(0);
}

static uint64_t child_console_total; /* the supervisor ends a guest that sends more than the cap */

static void child_console(void *opaque, const char *data, size_t len)
{
    (void)opaque;
    while (len && child_console_total < CHAN_CONSOLE_CALL_MAX) {
        size_t n = len > CHAN_CONSOLE_MSG_MAX ? CHAN_CONSOLE_MSG_MAX : len;
        if (n > CHAN_CONSOLE_CALL_MAX - child_console_total)
            n = (size_t)(CHAN_CONSOLE_CALL_MAX - child_console_total);
        send_msg(CHAN_FD, CHAN_CONSOLE, data, n, NULL, 0);
        child_console_total += n;
        data += n;
        len -= n;
    }
}

static struct sock_fprog instance_prog; /* the extra filter a snapshot instance stacks */

/* Sends the pidfd of a new instance to the supervisor (a CHAN_FORKED frame with SCM_RIGHTS). */
static NO_ASAN void template_forked(int pidfd)
{
    struct chan_hdr h = {CHAN_MAGIC, CHAN_VERSION, CHAN_FORKED, 0};
    /* without a pidfd when the fork failed: an answer all the same */
    fdpass_send(CHAN_FD, &h, sizeof h, &pidfd, pidfd >= 0 ? 1 : 0);
}

/*
 * Snapshot template: the guest has booted and asked for its first request. Report that, then
 * serve CHAN_CMD_FORK forever: each fork is a copy-on-write instance that continues this very
 * call on its own channel, after stacking a filter that takes fork and fd passing away again.
 * The supervisor learns the instance from the pidfd the kernel gave the template (CLONE_PIDFD),
 * never from anything the instance says.
 */
static NO_ASAN void template_loop(void)
{
    send_msg(CHAN_FD, CHAN_TEMPLATE, NULL, 0, NULL, 0);
    for (;;) {
        uint32_t cmd = 0;
        int fd, cut;
        unsigned nfd;
        ssize_t n = fdpass_recv(CHAN_FD, &cmd, sizeof cmd, 0, &fd, 1, &nfd, &cut);
        if (n != sizeof cmd || cmd != CHAN_CMD_FORK)
            _exit(0); /* CHAN_CMD_EXIT or the parent is gone */
        if (nfd != 1)
            _exit(0);
        int pidfd = -1;
        /* A plain fork (no thread, no shared memory) that also returns a pidfd. */
        long pid = syscall(SYS_clone, (unsigned long)(CLONE_PIDFD | SIGCHLD), 0UL, &pidfd, 0UL, 0UL);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* the instance ends when its template does */
            dup2(fd, CHAN_FD);
            close(fd);
            child_vm->snapshot_mode = 0;
            child_console_total = 0;
            if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &instance_prog) != 0)
                _exit(1);
            return;
        }
        close(fd);
        template_forked(pid > 0 ? pidfd : -1);
        if (pid > 0)
            close(pidfd);
    }
}

static int child_recv(void *opaque, struct funk_vm_request *req)
{
    (void)opaque;
    if (child_vm->snapshot_mode)
        template_loop();
    struct chan_request m;
    struct chan_hdr h;
    if (send_msg(CHAN_FD, CHAN_RECV, NULL, 0, NULL, 0) || read_full(CHAN_FD, &h, sizeof h) ||
        h.len < sizeof m || read_full(CHAN_FD, &m, sizeof m))
        return -EIO;
    size_t rest = h.len - sizeof m;
    if (!child_req_reserve(rest + 5) || read_full(CHAN_FD, child_req_buf, rest))
        return -EIO;
    if (m.rc != 0)
        return m.rc;
    const char *p = (const char *)child_req_buf;
    const char **fields[3] = {&req->method, &req->path, &req->query};
    uint64_t sum = 0;
    for (int i = 0; i < 5; i++)
        sum += m.len[i];
    if (sum != rest)
        return -EPROTO;
    for (int i = 0; i < 3; i++) {
        *fields[i] = m.len[i] ? p : NULL;
        p += m.len[i];
    }
    /* method/path/query must be NUL-terminated strings: the parent sends them with their NUL. */
    req->headers = p;
    req->headers_len = m.len[3];
    p += m.len[3];
    req->body = p;
    req->body_len = m.len[4];
    req->id = m.id;
    return 0;
}

static int child_send(void *opaque, const struct funk_vm_response *resp)
{
    (void)opaque;
    if (resp->headers_len > CHAN_HEADERS_MAX || resp->body_len > CHAN_BODY_MAX)
        return -E2BIG;
    struct chan_send m = {resp->status, (uint32_t)resp->headers_len, resp->body_len};
    struct chan_hdr h = {CHAN_MAGIC, CHAN_VERSION, CHAN_SEND,
                         (uint32_t)(sizeof m + resp->headers_len + resp->body_len)};
    int32_t rc;
    if (write_full(CHAN_FD, &h, sizeof h) || write_full(CHAN_FD, &m, sizeof m) ||
        (resp->headers_len && write_full(CHAN_FD, resp->headers, resp->headers_len)) ||
        (resp->body_len && write_full(CHAN_FD, resp->body, resp->body_len)) ||
        read_full(CHAN_FD, &rc, sizeof rc))
        return -EIO;
    return rc;
}

static const struct funk_vm_io child_io = {
    .recv = child_recv, .send = child_send, .console = child_console};

/* The hypercall entry funk guests call under this backend (the C ABI: nr, arg). On x86_64 the
 * stack is realigned on entry: a guest's misaligned stack must not break host SSE code. */
static NO_ASAN PROCESS_ENTRY_ALIGN void process_entry(uint64_t nr, uint64_t arg)
{
    if (nr > UINT32_MAX || hc_dispatch(child_vm, (unsigned)nr, arg) == HC_STOP)
        child_finish();
}

uint64_t vm_process_entry_addr(void)
{
    return (uint64_t)(uintptr_t)&process_entry;
}

static NO_ASAN void on_fault(int sig, siginfo_t *si, void *uc)
{
    child_res.exit = sig == SIGSYS ? FUNK_VM_EXIT_SANDBOX : FUNK_VM_EXIT_FAULT;
    process_arch_fault_reason(sig, si, uc, child_res.reason, sizeof child_res.reason);
    child_finish();
}

/*
 * The guest process's resource limits, set before its filter:
 *   RLIMIT_CORE 0     a crash never writes its memory (a tenant's data) to a core file
 *   RLIMIT_FSIZE      the largest block device: writes stay inside the backing files
 *                     (0 without one: no regular file can be written at all); not set when
 *                     fd 2 (kept with --verbose) is a regular file: the log grows past it
 *   RLIMIT_NOFILE     the fds it holds (channel, devices, module fds like ACCEL's agent socket)
 *                     and a few more for a template's fork commands
 *   RLIMIT_NPROC      1 for a guest that never clones (any but a template): the filter
 *                     refuses clone already; this holds if it did not.
 *                     RLIMIT_NPROC counts every process of the real uid, and every guest
 *                     started by root shares uid 65534, so a larger per-guest number would be
 *                     a budget all guests share (one guest's threads would starve another's):
 *                     threaded and template guests get none until guests get their own uids.
 *                     Root (a guest of a root funk-runtime) is not counted by the kernel.
 * RLIMIT_CPU is not set: a guest's run time is the library user's wall-clock timeout, which
 * kills the whole process (all its threads) by its pidfd; a template lives across requests.
 */
static void guest_limits(const struct funk_vm *vm)
{
    uint64_t fsize = 0;
    for (unsigned i = 0; i < vm->ndev; i++)
        if (vm->dev[i].fd >= 0 && vm->dev[i].type == MFT_DEV_BLOCK_BASIC &&
            vm->dev[i].capacity > fsize)
            fsize = vm->dev[i].capacity;
    struct stat st2;
    bool log_file = fstat(2, &st2) == 0 && S_ISREG(st2.st_mode);
    rlim_t nofile = (rlim_t)DEV_FD0 + vm->ndev + HC_MAX_MODULES + 8;
    struct {
        int res;
        rlim_t v;
    } lim[] = {
        {RLIMIT_CORE, 0},
        {RLIMIT_FSIZE, (rlim_t)fsize},
        {RLIMIT_NOFILE, nofile},
        {RLIMIT_NPROC, 1},
    };
    size_t n = sizeof lim / sizeof lim[0];
    if (vm->snapshot_mode)
        n--; /* RLIMIT_NPROC, the last */
    for (size_t i = 0; i < n; i++) {
        if (lim[i].res == RLIMIT_FSIZE && log_file)
            continue;
        struct rlimit rl = {lim[i].v, lim[i].v};
        struct rlimit cur;
        /* Never above what the library user had (lowering is always allowed). */
        if (getrlimit(lim[i].res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY &&
            cur.rlim_max < rl.rlim_max)
            rl.rlim_cur = rl.rlim_max = cur.rlim_max;
        setrlimit(lim[i].res, &rl);
    }
}

/* Runs in the child: its only exits are child_finish() or being killed. */
static void __attribute__((noreturn)) child_main(struct funk_vm *vm, int chan)
{
    child_vm = vm;
    vm->io = &child_io;
    vm->res = &child_res;
    child_res.exit = FUNK_VM_EXIT_IO;
    /* Die with our parent. A launched guest's parent is the library user's launcher thread,
     * which never exits (launcher.c); a legacy snapshot template instead outlives its creating
     * thread (a pool worker may exit) and ends when its channel closes. */
    if (!vm->snapshot_mode || vm->launched)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* The library user already gone? (A template's parent is outside its pid namespace: 0.) */
    if (vm->launched && getppid() != vm->launched && getppid() != 0)
        _exit(FUNK_EXIT_SETUP);

    /* Keep only the channel (3) and the devices (4..): move them above, then down. */
    int hi = fcntl(chan, F_DUPFD_CLOEXEC, 100);
    int devhi[MFT_MAX_ENTRIES];
    for (unsigned i = 0; i < vm->ndev; i++)
        devhi[i] = vm->dev[i].fd >= 0 ? fcntl(vm->dev[i].fd, F_DUPFD, 100 + 1 + i) : -1;
    /* The hypercall modules' fds (ACCEL's agent connection) follow the devices. */
    int *mslot[HC_MAX_MODULES];
    unsigned mmod[HC_MAX_MODULES];
    unsigned nmfd = hc_fds(vm, mslot, mmod, HC_MAX_MODULES);
    int mhi[HC_MAX_MODULES];
    for (unsigned i = 0; i < nmfd; i++)
        mhi[i] = fcntl(*mslot[i], F_DUPFD, 100 + 1 + MFT_MAX_ENTRIES + (int)i);
    dup2(hi, CHAN_FD);
    for (unsigned i = 0; i < vm->ndev; i++)
        if (devhi[i] >= 0) {
            dup2(devhi[i], DEV_FD0 + (int)i);
            vm->dev[i].fd = DEV_FD0 + (int)i;
        }
    for (unsigned i = 0; i < nmfd; i++) {
        dup2(mhi[i], DEV_FD0 + (int)(vm->ndev + i));
        *mslot[i] = DEV_FD0 + (int)(vm->ndev + i);
    }
    /* ...and what the backend built before this process got its guest (a pre-built KVM VM's
     * fds, kvm_spawn.c), at numbers above the moves (100 .. 100 + 1 + 64 + 16). */
    int first = DEV_FD0 + (int)vm->ndev + (int)nmfd, keep_lo = -1;
    int nkeep = vm->ops->child_keep_fds ? vm->ops->child_keep_fds(vm, &keep_lo) : 0;
    if (nkeep > 0 && keep_lo > first) {
        syscall(SYS_close_range, first, keep_lo - 1, 0);
        syscall(SYS_close_range, keep_lo + nkeep, ~0u, 0);
    } else {
        syscall(SYS_close_range, first, ~0u, 0);
    }

    /* Cap the address space: the host side may still allocate (malloc), the guest nothing big. */
    unsigned long vm_pages = 0;
    int sfd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (sfd >= 0) {
        char sb[64];
        ssize_t sn = read(sfd, sb, sizeof sb - 1);
        close(sfd);
        if (sn > 0) {
            sb[sn] = '\0';
            vm_pages = strtoul(sb, NULL, 10);
        }
    }
    if (vm_pages) {
        rlim_t cap = (rlim_t)vm_pages * 4096 + vm->mem_size + (256u << 20);
        struct rlimit rl = {cap, cap};
        setrlimit(RLIMIT_AS, &rl);
    }

    /* fds 0 and 1 are nobody's business; fd 2 (the library user's log) only when verbose:
     * otherwise a guest's raw bytes there would forge its log lines. */
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        if (!(vm->flags & FUNK_VM_F_VERBOSE))
            dup2(nul, 2);
        close(nul);
    }
    /* What only the started user may open (a spawned KVM monitor: /dev/kvm and its VM). */
    if (vm->ops->child_open)
        vm->ops->child_open(vm);
    /* A real unprivileged uid/gid (nobody), so no host file is open to it even through a
     * filter hole: a user namespace alone leaves root's file access (issue 11 item 11). */
    /* (EPERM: a root without CAP_SETUID/SETGID, like funk-runtime's container process, which
     * dropped its capabilities itself: nothing more to drop here.) */
    if (geteuid() == 0 &&
        (setgroups(0, NULL) != 0 || setresgid(GUEST_GID, GUEST_GID, GUEST_GID) != 0 ||
         setresuid(GUEST_UID, GUEST_UID, GUEST_UID) != 0) && errno != EPERM) {
        child_res.exit = FUNK_VM_EXIT_INTERNAL;
        snprintf(child_res.reason, sizeof child_res.reason,
                 "process backend: cannot drop to uid/gid %d: %s", GUEST_UID, strerror(errno));
        child_finish();
    }
    /* Changing credentials cleared the parent-death signal: set it again. */
    if (!vm->snapshot_mode || vm->launched)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (vm->launched && getppid() != vm->launched && getppid() != 0)
        _exit(FUNK_EXIT_SETUP);

    /* Per-guest limits (issue 11), soft == hard: raising one needs CAP_SYS_RESOURCE in the
     * initial user namespace, which no guest has (dropped uid, or a root without capabilities),
     * and the filter refuses setrlimit and any prlimit64 but on itself. RLIMIT_AS is above. */
    guest_limits(vm);

    /* Namespaces where the kernel allows them: a user namespace drops every host privilege
     * (root becomes an unmapped user), IPC and UTS cut the rest of the shared state. A new
     * network namespace would cost ~0.5 ms per boot here; sockets are refused by seccomp. */
    if (unshare(CLONE_NEWUSER | CLONE_NEWIPC | CLONE_NEWUTS) != 0 && (vm->flags & FUNK_VM_F_VERBOSE))
        vm_log(vm, "process backend: namespaces unavailable (%s): seccomp only", strerror(errno));

    /* A backend whose guest is not native code here (a spawned KVM monitor) takes over. */
    if (vm->ops->child_enter)
        vm->ops->child_enter(vm);

    /* Guest memory at its own addresses, never overlapping the monitor's mappings. */
    uint64_t base = PROCESS_MEM_BASE, size = vm->mem_size - base;
    void *m = mmap((void *)(uintptr_t)base, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
    if (m != (void *)(uintptr_t)base) {
        child_res.exit = FUNK_VM_EXIT_INTERNAL;
        snprintf(child_res.reason, sizeof child_res.reason,
                 "process backend: cannot map guest memory at 0x%llx-0x%llx: %s",
                 (unsigned long long)base, (unsigned long long)vm->mem_size,
                 m == MAP_FAILED && errno != EEXIST
                     ? strerror(errno)
                     : "part of the range is taken by the monitor's own mappings (sanitizer "
                       "builds reserve memory from 2 GiB up: use less --mem)");
        child_finish();
    }
    if (vm->flags & FUNK_VM_F_LINUX)
        linux_guest_enter(vm, m); /* a Linux guest: linux_x86_64.c takes over from here */
    memcpy(m, vm->staging, PROCESS_STAGING_END - PROCESS_MEM_BASE);
    if (vm->funk_guest && !vm->img.spt) {
        /* The hypercall entry is this process's own (a launched guest's differs from its
         * library user's: a separate exec, its own load address). */
        uint64_t entry = vm_process_entry_addr();
        memcpy((uint8_t *)m + (FUNK_BOOT_INFO_GPA - PROCESS_MEM_BASE) +
                   offsetof(struct funk_boot_info, hypercall),
               &entry, sizeof entry);
    }
    vm->mem = m;
    vm->mem_base = base;
    vm->mem_end = vm->mem_size;
    for (unsigned i = 0; i < vm->img.nseg; i++) {
        const struct elf_segment *s = &vm->img.seg[i];
        memcpy((void *)(uintptr_t)s->vaddr, vm->elf_copy + s->offset, s->filesz);
    }
    /* Per-page permissions over the kernel range (the loader refused anything adding to W+X). */
    for (uint64_t a = HVT_GUEST_MIN_BASE; a < vm->img.kernel_end;) {
        unsigned perm = elf_page_perm(&vm->img, a);
        uint64_t e = a + 4096;
        while (e < vm->img.kernel_end && elf_page_perm(&vm->img, e) == perm)
            e += 4096;
        int prot = PROT_READ | ((perm & ELF_W) ? PROT_WRITE : 0) | ((perm & ELF_X) ? PROT_EXEC : 0);
        mprotect((void *)(uintptr_t)a, e - a, prot);
        a = e;
    }
    /* vm->elf_copy is not freed here: no heap calls in the child (see child_req_buf); it is the
     * parent's copy-on-write page range and goes with the process. */

    /* Faults and forbidden syscalls are reported from an alternate stack. */
    static uint8_t altstack[1 << 16] __attribute__((aligned(16)));
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    if (vm->snapshot_mode) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(SIGCHLD, &ign, NULL); /* instances are reaped by the kernel */
    }
    if (vm->img.spt)
        spt_guest_enter(vm); /* a Solo5 spt guest: spt_x86_64.c's filter and entry */
    if (vm_process_sandbox(vm) != 0) {
        child_res.exit = FUNK_VM_EXIT_INTERNAL;
        snprintf(child_res.reason, sizeof child_res.reason, "process backend: seccomp set-up failed");
        child_finish();
    }
    process_arch_enter(vm->img.entry, vm->mem_size, HVT_BOOT_INFO_GPA);
}

/* ---- Parent side ------------------------------------------------------------------------- */

static int serve_recv(struct funk_vm *vm, int fd)
{
    struct funk_vm_request q;
    memset(&q, 0, sizeof q);
    struct chan_request m = {0};
    m.rc = vm->io->recv ? vm->io->recv(vm->io->opaque, &q) : 1;
    const char *s[3] = {q.method, q.path, q.query};
    if (m.rc == 0) {
        for (int i = 0; i < 3; i++)
            m.len[i] = s[i] ? (uint32_t)strlen(s[i]) + 1 : 0;
        m.len[3] = (uint32_t)q.headers_len;
        m.len[4] = (uint32_t)q.body_len;
        m.id = q.id;
        if (q.headers_len > UINT32_MAX / 4 || q.body_len > UINT32_MAX / 4)
            m.rc = -E2BIG;
    }
    uint64_t total = sizeof m;
    if (m.rc == 0)
        for (int i = 0; i < 5; i++)
            total += m.len[i];
    else
        memset(m.len, 0, sizeof m.len);
    struct chan_hdr h = {CHAN_MAGIC, CHAN_VERSION, CHAN_RECV, (uint32_t)total};
    if (write_full(fd, &h, sizeof h) || write_full(fd, &m, sizeof m))
        return -EIO;
    if (m.rc == 0) {
        for (int i = 0; i < 3; i++)
            if (m.len[i] && write_full(fd, s[i], m.len[i]))
                return -EIO;
        if ((m.len[3] && write_full(fd, q.headers, m.len[3])) ||
            (m.len[4] && write_full(fd, q.body, m.len[4])))
            return -EIO;
    }
    return 0;
}

enum serve_end { SERVE_EOF = 0, SERVE_RESULT = 1, SERVE_TEMPLATE = 2, SERVE_PROTOCOL = 3 };

/*
 * Serves one guest's channel until its result, a template report, EOF or a protocol error.
 * Every frame passes chan_check_hdr before its payload is read and chan_decode after; nothing
 * else here interprets guest bytes. *why is set for SERVE_PROTOCOL.
 */
static enum serve_end serve(struct funk_vm *vm, int fd, enum chan_mode mode, const char **why)
{
    struct funk_vm_result *res = vm->res;
    struct chan_state st = {.mode = mode};
    uint8_t small[CHAN_CONSOLE_MSG_MAX];
    for (;;) {
        struct chan_hdr h;
        struct chan_msg msg;
        if (read_full(fd, &h, sizeof h))
            return SERVE_EOF;
        if (chan_check_hdr(&st, &h, why))
            return SERVE_PROTOCOL;
        uint8_t *b = h.len <= sizeof small ? small : malloc(h.len);
        if (!b) {
            *why = "out of memory for a frame";
            return SERVE_PROTOCOL;
        }
        int rd = h.len ? read_full(fd, b, h.len) : 0;
        int rc = rd ? 0 : chan_decode(&st, &h, b, h.len, &msg, why);
        enum serve_end end = SERVE_EOF;
        int more = 0;
        if (rd)
            end = SERVE_EOF;
        else if (rc)
            end = SERVE_PROTOCOL;
        else if (msg.type == CHAN_CONSOLE) {
            if (vm->io->console) {
                vm->io->console(vm->io->opaque, (const char *)msg.data, msg.len);
            } else {
                fwrite(msg.data, 1, msg.len, stdout);
                fflush(stdout);
            }
            more = 1;
        } else if (msg.type == CHAN_RECV) {
            more = serve_recv(vm, fd) == 0;
        } else if (msg.type == CHAN_SEND) {
            struct funk_vm_response r = {.status = msg.send.status,
                                         .headers = msg.send.headers_len ? (const char *)msg.headers : NULL,
                                         .headers_len = msg.send.headers_len,
                                         .body = msg.send.body_len ? msg.body : NULL,
                                         .body_len = (size_t)msg.send.body_len};
            int32_t src = vm->io->send ? vm->io->send(vm->io->opaque, &r) : 0;
            more = write_full(fd, &src, sizeof src) == 0;
        } else if (msg.type == CHAN_TEMPLATE) {
            end = SERVE_TEMPLATE;
        } else if (msg.type == CHAN_RESULT) {
            res->exit = (enum funk_vm_exit)msg.result.exit;
            res->status = msg.result.status;
            res->hypercalls = msg.result.hypercalls;
            res->first_hypercall_ns = msg.result.first_hypercall_ns;
            memcpy(res->reason, msg.result.reason, sizeof res->reason);
            res->reason[sizeof res->reason - 1] = '\0';
            end = SERVE_RESULT;
        } else {
            *why = "frame out of turn";
            end = SERVE_PROTOCOL;
        }
        if (b != small)
            free(b);
        if (!more)
            return end;
    }
}

/* Ends a guest that broke the protocol: killed by what the kernel told us, and the reason. */
static void protocol_kill(struct funk_vm *vm, const char *why)
{
    if (vm->child_pidfd >= 0)
        syscall(SYS_pidfd_send_signal, vm->child_pidfd, SIGKILL, NULL, 0);
    else if (vm->child_pid > 0)
        kill(vm->child_pid, SIGKILL);
    vm_stop(vm, FUNK_VM_EXIT_PROTOCOL, "channel: %s; guest process killed", why);
}

/* Legacy path (issue 11): the guest forked from the library user itself, only with
 * FUNK_PROCESS_LAUNCHER=off (an operator's switch, for comparison and emergencies). */
bool vm_process_legacy(const struct funk_vm *vm)
{
    (void)vm;
    const char *e = getenv("FUNK_PROCESS_LAUNCHER");
    return e && strcmp(e, "off") == 0;
}

/* Starts the process that boots the guest; its channel is *fd_out. Launched guests are known
 * by a pidfd (vm->child_pidfd), legacy ones by their fork pid (vm->child_pid). */
static int spawn_child(struct funk_vm *vm, int *fd_out)
{
    if (!vm_process_legacy(vm)) {
        int pidfd = -1;
        int rc = vm_launch(vm, fd_out, &pidfd);
        if (rc == 0) {
            vm->child_pidfd = pidfd;
            vm->child_pid = -1;
            return 0;
        }
        if (rc != VM_LAUNCH_UNAVAILABLE)
            return rc;
        /* No launcher can run in this process (its binary cannot be exec'd here, e.g. after
         * a chroot): a guest never forks from the library user unless the operator said so. */
        snprintf(vm->err, sizeof vm->err,
                 "process backend: no launcher can run in this process (/proc/self/exe cannot be "
                 "exec'd here): call funk_vm_process_prepare() before a chroot, or set "
                 "FUNK_PROCESS_LAUNCHER=off");
        vm_log(vm, "%s", vm->err);
        return -EHOSTDOWN;
    }
    struct sock_fprog prog;
    int rc = filter_bpf(vm, &prog);
    if (rc)
        return rc;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        free(prog.filter);
        return -errno;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(sv[0]);
        close(sv[1]);
        free(prog.filter);
        return e;
    }
    if (pid == 0) {
        close(sv[0]);
        child_prog = prog;
        child_main(vm, sv[1]);
    }
    free(prog.filter);
    close(sv[1]);
    vm->child_pid = pid;
    *fd_out = sv[0];
    return 0;
}

/* Runs in a launched child (launcher.c): the filters, then the guest. */
void vm_process_child_start(struct funk_vm *vm, int chan)
{
    if (filter_bpf(vm, &child_prog) != 0 || (vm->snapshot_mode && instance_filter() != 0))
        _exit(FUNK_EXIT_SETUP);
    child_main(vm, chan);
}

/* Kills (a stray after its result, or anything after EOF) and reaps our guest child; returns
 * its wait status. Both kinds are our children: the launcher clones with CLONE_PARENT. */
static int reap_child(struct funk_vm *vm)
{
    int st = 0;
    if (vm->child_pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, vm->child_pidfd, SIGKILL, NULL, 0);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        while (waitid((idtype_t)P_PIDFD, (id_t)vm->child_pidfd, &si, WEXITED) < 0 && errno == EINTR)
            ;
        st = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : (si.si_status & 0x7f);
        int fd = vm->child_pidfd;
        vm->child_pidfd = -1;
        close(fd);
    } else if (vm->child_pid > 0) {
        kill(vm->child_pid, SIGKILL); /* not reaped yet: the pid is still its own */
        while (waitpid(vm->child_pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    vm->child_pid = -1;
    return st;
}

/*
 * A guest that sent its result is done: kill it and let this thread wait for its exit, off the
 * caller's path (a KVM monitor's exit tears its VM down, ~0.5 ms here; funkd answers the call
 * only when funk_vm_run has returned). Only launched guests (a pidfd); the status is not needed.
 */
static int reaper_pipe[2] = {-1, -1};
static pthread_once_t reaper_once = PTHREAD_ONCE_INIT;

static void *reaper_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd;
        ssize_t n = read(reaper_pipe[0], &fd, sizeof fd);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof fd)
            return NULL;
        siginfo_t si;
        while (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED) < 0 && errno == EINTR)
            ;
        close(fd);
    }
}

static void reaper_start(void)
{
    if (pipe2(reaper_pipe, O_CLOEXEC) != 0)
        return;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 << 10);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread takes none of the caller's signals */
    if (pthread_create(&t, &a, reaper_main, NULL) != 0) {
        close(reaper_pipe[0]);
        close(reaper_pipe[1]);
        reaper_pipe[0] = reaper_pipe[1] = -1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
}

static void reap_later(struct funk_vm *vm)
{
    int fd = vm->child_pidfd;
    if (fd < 0) {
        reap_child(vm); /* a legacy fork: by its pid, now */
        return;
    }
    vm->child_pidfd = -1;
    vm->child_pid = -1;
    vm_reap_pidfd(fd);
}

void vm_reap_pidfd(int fd)
{
    syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
    pthread_once(&reaper_once, reaper_start);
    if (reaper_pipe[1] < 0 || write(reaper_pipe[1], &fd, sizeof fd) != (ssize_t)sizeof fd) {
        siginfo_t si;
        while (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED) < 0 && errno == EINTR)
            ;
        close(fd);
    }
}

static void ended_without_result(struct funk_vm *vm, int have_status, int st)
{
    if (have_status && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && vm_cgroup_oom_killed(&vm->cg))
        vm_stop(vm, FUNK_VM_EXIT_LIMIT, "guest process killed: over its memory limit (cgroup)");
    else if (vm->kicked)
        vm_stop(vm, FUNK_VM_EXIT_TIMEOUT, "guest timed out (process killed)");
    else if (have_status && WIFSIGNALED(st))
        vm_stop(vm, FUNK_VM_EXIT_SANDBOX, "guest process killed by signal %d (%s)", WTERMSIG(st),
                strsignal(WTERMSIG(st)));
    else
        vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "guest process ended without a result (status %d)",
                have_status && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int vm_process_run(struct funk_vm *vm)
{
    int fd, st = 0;
    const char *why = NULL;
    enum serve_end end;
    if (vm->restored_fd >= 0) {
        /* An instance forked from a snapshot template: not our child; known by its pidfd. */
        fd = vm->restored_fd;
        vm->restored_fd = -1;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (vm->kicked)
            vm_process_kick(vm);
        end = serve(vm, fd, CHAN_MODE_RUN, &why);
        if (end == SERVE_PROTOCOL)
            protocol_kill(vm, why);
        close(fd);
        int pidfd = vm->child_pidfd;
        vm->child_pidfd = -1;
        if (pidfd >= 0) {
            /* A result is the guest's last word: whatever still runs of it is a stray. */
            syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
            close(pidfd);
        }
        if (end == SERVE_EOF || end == SERVE_TEMPLATE)
            ended_without_result(vm, 0, 0);
        return 0;
    }
    int rc = spawn_child(vm, &fd);
    if (rc)
        return rc;
    /* A kick that came before there was a process to kill: the kicker set kicked and then
     * looked for the pid; we set the pid and now look at kicked, so one of us sees the other. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (vm->kicked)
        vm_process_kick(vm);
    end = serve(vm, fd, CHAN_MODE_RUN, &why);
    if (end == SERVE_PROTOCOL)
        protocol_kill(vm, why);
    close(fd);
    if (end == SERVE_RESULT) {
        reap_later(vm);
        return 0;
    }
    st = reap_child(vm);
    if (end == SERVE_EOF || end == SERVE_TEMPLATE)
        ended_without_result(vm, 1, st);
    vm_cgroup_destroy(&vm->cg);
    return 0;
}

/* ---- Snapshots: a template process paused at the guest's first FN_RECV ---------------- */

/* The filter each instance stacks on the template's: no more fork, fd passing, filters. The
 * program lives in static storage: the template reads it after its fork. */
static int instance_filter(void)
{
    static struct sock_filter ibuf[512];
    scmp_filter_ctx ictx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = ictx ? 0 : -ENOMEM;
    static const int deny[] = {SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(fork),
                               SCMP_SYS(vfork), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
                               SCMP_SYS(dup2),
                               SCMP_SYS(dup3), SCMP_SYS(seccomp), SCMP_SYS(close),
                               SCMP_SYS(prctl)};
    for (size_t i = 0; rc == 0 && i < sizeof deny / sizeof deny[0]; i++)
        rc = seccomp_rule_add(ictx, SCMP_ACT_TRAP, deny[i], 0);
    int p[2] = {-1, -1};
    if (rc == 0 && (pipe2(p, O_CLOEXEC) != 0 || seccomp_export_bpf(ictx, p[1]) != 0))
        rc = -EINVAL;
    if (p[1] >= 0)
        close(p[1]);
    ssize_t got = rc == 0 ? read(p[0], ibuf, sizeof ibuf) : -1;
    if (p[0] >= 0)
        close(p[0]);
    if (ictx)
        seccomp_release(ictx);
    if (rc == 0 && (got <= 0 || got % (ssize_t)sizeof ibuf[0]))
        rc = -EINVAL;
    if (rc)
        return rc;
    instance_prog.len = (unsigned short)(got / (ssize_t)sizeof ibuf[0]);
    instance_prog.filter = ibuf;
    return 0;
}

int vm_process_snapshot_new(struct funk_vm *vm, struct funk_vm_snapshot **out)
{
    vm->snapshot_mode = 1;
    int rc = vm_process_legacy(vm) ? instance_filter() : 0; /* a launched template builds its own */
    if (rc)
        return rc;
    int fd;
    rc = spawn_child(vm, &fd);
    if (rc)
        return rc;
    const char *why = NULL;
    enum serve_end how = serve(vm, fd, CHAN_MODE_TEMPLATE, &why);
    if (how != SERVE_TEMPLATE) {
        /* The guest ended (or failed, or broke the protocol) before its first request. */
        if (how == SERVE_PROTOCOL)
            protocol_kill(vm, why);
        close(fd);
        int st = reap_child(vm);
        if (how == SERVE_EOF)
            ended_without_result(vm, 1, st);
        vm_cgroup_destroy(&vm->cg);
        return -ECHILD;
    }
    struct funk_vm_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap) {
        close(fd);
        reap_child(vm);
        return -ENOMEM;
    }
    snap->ops = vm->ops;
    snap->pid = vm->child_pid;
    snap->pidfd = vm->child_pidfd;
    vm->child_pidfd = -1;
    snap->chan = fd;
    snap->mem_size = vm->mem_size;
    snap->cg = vm->cg; /* the template's cgroup lives as long as the template */
    memset(&vm->cg, 0, sizeof vm->cg);
    pthread_mutex_init(&snap->lock, NULL);
    vm->child_pid = -1;
    *out = snap;
    return 0;
}

/* Reads the template's CHAN_FORKED answer: the new instance's pidfd, or -1. Bounded wait. */
static int template_answer(int chan)
{
    struct pollfd pfd = {.fd = chan, .events = POLLIN};
    if (poll(&pfd, 1, 10000) != 1)
        return -1;
    struct chan_hdr h;
    int fd = -1, cut;
    unsigned nfd;
    ssize_t n = fdpass_recv(chan, &h, sizeof h, MSG_CMSG_CLOEXEC | MSG_DONTWAIT, &fd, 1, &nfd, &cut);
    if (nfd != 1)
        fd = -1;
    const char *why;
    struct chan_state st = {.mode = CHAN_MODE_FORK};
    /* The frame must be a whole CHAN_FORKED header with exactly one fd, and that a pidfd
     * (signal 0 probes it). */
    if (n != (ssize_t)sizeof h || cut || chan_check_hdr(&st, &h, &why) ||
        fd < 0 || syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int vm_process_restore(struct funk_vm *vm, struct funk_vm_snapshot *snap)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    uint32_t cmd = CHAN_CMD_FORK;
    pthread_mutex_lock(&snap->lock);
    ssize_t n = fdpass_send(snap->chan, &cmd, sizeof cmd, &sv[1], 1);
    int pidfd = n == sizeof cmd ? template_answer(snap->chan) : -1;
    pthread_mutex_unlock(&snap->lock);
    close(sv[1]);
    if (pidfd < 0) {
        close(sv[0]);
        return -ECHILD; /* the template is gone or did not answer as the protocol says */
    }
    vm->restored_fd = sv[0];
    vm->child_pidfd = pidfd;
    vm->child_pid = -1;
    vm->loaded = true;
    vm->funk_guest = true;
    return 0;
}

void vm_process_snapshot_delete(struct funk_vm_snapshot *snap)
{
    close(snap->chan); /* an honest template exits when its channel closes; any other now: */
    struct funk_vm tmp = {.child_pid = snap->pid, .child_pidfd = snap->pidfd};
    reap_child(&tmp); /* and with it (init of its pid namespace) all it forked */
    vm_cgroup_destroy(&snap->cg); /* and whatever else is counted in its cgroup */
    pthread_mutex_destroy(&snap->lock);
}

void vm_process_kick(struct funk_vm *vm)
{
    vm->kicked = 1;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    int pidfd = vm->child_pidfd;
    if (pidfd >= 0)
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    else if (vm->child_pid > 0)
        kill(vm->child_pid, SIGKILL);
}

/* One cached program, keyed by the device layout (the only thing the filter depends on). */
static pthread_mutex_t bpf_lock = PTHREAD_MUTEX_INITIALIZER;
static char bpf_key[MFT_MAX_ENTRIES * 48 + HC_MAX_MODULES + 8];
static struct sock_filter *bpf_prog;
static size_t bpf_len;

static int filter_bpf(const struct funk_vm *vm, struct sock_fprog *out)
{
    char key[MFT_MAX_ENTRIES + HC_MAX_MODULES + 2];
    /* The cache key: layout plus block geometry. */
    char geo[MFT_MAX_ENTRIES * 48 + HC_MAX_MODULES + 8];
    size_t gl = 0;
    unsigned n = 0;
    for (unsigned i = 0; i < vm->ndev; i++) {
        key[n++] = vm->dev[i].fd < 0 ? '-' : vm->dev[i].type == MFT_DEV_BLOCK_BASIC ? 'b' : 'n';
        if (key[n - 1] == 'b')
            gl += (size_t)snprintf(geo + gl, sizeof geo - gl, "%u:%llu:%u,", i,
                                   (unsigned long long)vm->dev[i].capacity, vm->dev[i].block_size);
    }
    geo[gl] = '\0';
    /* Module fds right after the devices (a digit: the module's index), each with its module's
     * own rules (added below: the layout's filter knows no module). */
    int *mslot[HC_MAX_MODULES];
    unsigned mmod[HC_MAX_MODULES];
    unsigned nmfd = hc_fds((struct funk_vm *)vm, mslot, mmod, HC_MAX_MODULES);
    for (unsigned i = 0; i < nmfd; i++)
        key[n++] = (char)('0' + mmod[i]);
    if (vm->snapshot_mode)
        key[n++] = 'T'; /* after the devices: index i of a device stays its fd offset */
    key[n] = '\0';
    if (gl + n + 2 > sizeof geo)
        return -E2BIG;
    memcpy(geo + gl, key, n + 1);
    if (strspn(key, "-") == n) {
        /* No attached device: the program generated at build time (process_filter_gen.c). */
        out->len = (unsigned short)vm_process_filter_nodev_len;
        out->filter = malloc(sizeof vm_process_filter_nodev);
        if (!out->filter)
            return -ENOMEM;
        memcpy(out->filter, vm_process_filter_nodev, sizeof vm_process_filter_nodev);
        return 0;
    }
    int rc = 0;
    pthread_mutex_lock(&bpf_lock);
    if (!bpf_prog || strcmp(geo, bpf_key) != 0) {
        struct proc_dev_geo dg[MFT_MAX_ENTRIES];
        for (unsigned i = 0; i < vm->ndev && i < MFT_MAX_ENTRIES; i++)
            dg[i] = (struct proc_dev_geo){vm->dev[i].capacity, vm->dev[i].block_size};
        scmp_filter_ctx ctx = vm_process_filter(key, dg);
        for (unsigned i = 0; ctx && i < nmfd; i++)
            if (hc_fd_seccomp(mmod[i], ctx, DEV_FD0 + (int)(vm->ndev + i)) != 0) {
                seccomp_release(ctx);
                ctx = NULL;
            }
        int p[2] = {-1, -1};
        rc = -EINVAL;
        if (ctx && pipe2(p, O_CLOEXEC) == 0 && seccomp_export_bpf(ctx, p[1]) == 0) {
            close(p[1]);
            p[1] = -1;
            uint8_t buf[1 << 15];
            ssize_t got = read(p[0], buf, sizeof buf);
            if (got > 0 && got % sizeof(struct sock_filter) == 0) {
                free(bpf_prog);
                bpf_prog = malloc((size_t)got);
                if (bpf_prog) {
                    memcpy(bpf_prog, buf, (size_t)got);
                    bpf_len = (size_t)got / sizeof(struct sock_filter);
                    memcpy(bpf_key, geo, strlen(geo) + 1);
                    rc = 0;
                }
            }
        }
        if (p[0] >= 0)
            close(p[0]);
        if (p[1] >= 0)
            close(p[1]);
        if (ctx)
            seccomp_release(ctx);
    }
    if (rc == 0) {
        /* A private copy: the cache may change under another thread before the fork. */
        out->len = (unsigned short)bpf_len;
        out->filter = malloc(bpf_len * sizeof *bpf_prog);
        if (out->filter)
            memcpy(out->filter, bpf_prog, bpf_len * sizeof *bpf_prog);
        else
            rc = -ENOMEM;
    }
    pthread_mutex_unlock(&bpf_lock);
    return rc;
}

int vm_process_sandbox(struct funk_vm *vm)
{
    if (!child_prog.filter)
        return -EINVAL;
    struct sock_fprog prog = child_prog;
    if ((vm->flags & FUNK_VM_F_LINUX) && linux_filter(vm, &child_prog, &prog) != 0)
        return -E2BIG; /* every call from guest memory traps into the personality */
    if (vm->img.spt && spt_filter(vm, &child_prog, &prog) != 0)
        return -E2BIG; /* Solo5 spt's calls from guest memory, the rest as before */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? 0 : -errno;
}

/* ---- For a spawned KVM monitor (kvm_spawn.c): the template loop and the result --------- */

/* In an instance forked from a template: what the process template's instance does after its
 * fork (a fresh console budget, the stacked instance filter). 0 or -errno. */
NO_ASAN int vm_child_instance_start(void)
{
    child_vm->snapshot_mode = 0;
    child_console_total = 0;
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &instance_prog) == 0 ? 0 : -errno;
}

NO_ASAN void vm_child_finish(void)
{
    child_finish();
}

/* ---- For the Linux personality (linux_syscall.c): the child's channel and result ------- */

int vm_process_child_recv(struct funk_vm_request *req)
{
    return child_recv(NULL, req);
}

int vm_process_child_send(const struct funk_vm_response *resp)
{
    return child_send(NULL, resp);
}

void vm_process_child_console(const char *data, size_t len)
{
    child_console(NULL, data, len);
}

/* A Linux guest's funk hypercall (FUNK_LINUX_HC_NR), served as process_entry serves a funk
 * guest's: the checks and handlers of hc_dispatch; a stopping call ends the guest here. */
void vm_process_child_hypercall(unsigned nr, uint64_t arg)
{
    if (hc_dispatch(child_vm, nr, arg) == HC_STOP)
        child_finish();
}

NO_ASAN void vm_process_child_exit(enum funk_vm_exit exit, int status, const char *reason)
{
    child_res.exit = exit;
    child_res.status = status;
    snprintf(child_res.reason, sizeof child_res.reason, "%s", reason);
    child_finish();
}

NO_ASAN void vm_process_on_fault(int sig, siginfo_t *si, void *uc)
{
    on_fault(sig, si, uc);
}

/* ---- The ops table (vm_backend.h) ------------------------------------------------------ */

int vm_process_shell_new(struct funk_vm *vm)
{
    /* Only bookkeeping: the boot area is staged here, the process starts in funk_vm_run. */
    vm->staging = calloc(1, PROCESS_STAGING_END - PROCESS_MEM_BASE);
    vm->mem = vm->staging;
    vm->mem_base = PROCESS_MEM_BASE;
    vm->mem_end = PROCESS_STAGING_END;
    return vm->staging ? 0 : -ENOMEM;
}

int vm_process_place(struct funk_vm *vm, const void *elf, size_t elf_len)
{
    /* The guest's process copies the segments at their link addresses: keep the image. */
    free(vm->elf_copy);
    vm->elf_copy = malloc(elf_len);
    if (!vm->elf_copy)
        return vm_load_error(vm, -ENOMEM, "out of memory");
    memcpy(vm->elf_copy, elf, elf_len);
    vm->elf_len = elf_len;
    return 0;
}

static uint64_t process_cycle_freq(void)
{
    return 0; /* guests use WALLTIME */
}

static int process_boot(struct funk_vm *vm)
{
    if (!vm->funk_guest && !vm->img.spt)
        return vm_load_error(vm, -ENOTSUP,
                             "plain Solo5 hvt guests run under KVM only (they issue outl): the "
                             "process backend runs funk guests (funk note) and Solo5 spt guests");
    return 0;
}

void vm_process_release(struct funk_vm *vm)
{
    if (vm->restored_fd >= 0)
        close(vm->restored_fd); /* a restored instance never run: its channel closing ends it */
    if (vm->child_pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, vm->child_pidfd, SIGKILL, NULL, 0); /* and this, surely */
        close(vm->child_pidfd);
    }
    /* staging and elf_copy: funk_vm_delete frees them for every backend */
}

const struct vm_backend_ops vm_process_ops = {
    .name = "process",
    .isolation = FUNK_ISOLATION_PROCESS,
    .shell_new = vm_process_shell_new,
    .place = vm_process_place,
    .cycle_freq = process_cycle_freq,
    .hypercall_entry = vm_process_entry_addr,
    .boot = process_boot,
    .run = vm_process_run,
    .kick = vm_process_kick,
    .release = vm_process_release,
    .snapshot_new = vm_process_snapshot_new,
    .restore = vm_process_restore,
    .snapshot_delete = vm_process_snapshot_delete,
};
