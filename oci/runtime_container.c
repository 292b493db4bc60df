/* SPDX-License-Identifier: Apache-2.0 */
/* funk-runtime: the container process of a unikernel: enters the spec's namespaces, loads the
 * guest into a VM ahead of `start`, waits on the exec fifo, then runs the guest sandboxed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <funk/abi/funk.h>
#include <funk/vm.h>

#include "runtime.h"

static struct funk_vm *g_vm;
static volatile sig_atomic_t g_signal;

/* A signal forwarded by `kill`: end the guest; the process exits 128+signal like a shell would
 * report it. As PID 1 of its namespace the process only gets signals it handles. */
static void on_signal(int sig)
{
    g_signal = sig;
    if (g_vm)
        funk_vm_kick(g_vm);
}

static void child_fail(int syncfd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void child_fail(int syncfd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n > 0 && write(syncfd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0)
        _exit(127);
    _exit(127);
}

static int read_file(int rootfd, const char *path, char **out, size_t *len)
{
    int fd = rt_open_in_root(rootfd, path, O_RDONLY);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -EINVAL;
    }
    if ((uint64_t)st.st_size > (4ull << 30)) {
        close(fd); /* larger than any guest's memory */
        return -EFBIG;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    while (buf && n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r <= 0) {
            free(buf);
            close(fd);
            return r < 0 ? -errno : -EIO;
        }
        n += (size_t)r;
    }
    close(fd);
    if (!buf)
        return -ENOMEM;
    *out = buf;
    *len = n;
    return 0;
}

/* fn mode: stdin is the body of one POST / request; the response body goes to stdout. */
struct rt_fn {
    char *body;
    size_t len;
    int served;
    unsigned status; /* of the function's answer (0: none yet) */
};

static int fn_recv(void *opaque, struct funk_vm_request *req)
{
    struct rt_fn *f = opaque;
    if (f->served)
        return 1;
    f->served = 1;
    memset(req, 0, sizeof *req);
    req->method = "POST";
    req->path = "/";
    req->body = f->body;
    req->body_len = f->len;
    req->id = 1;
    return 0;
}

static int fn_send(void *opaque, const struct funk_vm_response *resp)
{
    struct rt_fn *f = opaque;
    f->status = resp->status;
    const char *p = resp->body;
    size_t left = resp->body_len;
    while (left) {
        ssize_t w = write(1, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        p += w;
        left -= (size_t)w;
    }
    return 0;
}

static void fn_console(void *opaque, const char *data, size_t len)
{
    (void)opaque;
    if (write(2, data, len) < 0)
        return;
}

static int read_stdin(struct rt_fn *f)
{
    size_t cap = 1 << 16;
    f->body = malloc(cap);
    f->len = 0;
    for (;;) {
        if (!f->body)
            return -ENOMEM;
        if (f->len == cap)
            f->body = realloc(f->body, cap *= 2);
        if (!f->body)
            return -ENOMEM;
        ssize_t r = read(0, f->body + f->len, cap - f->len);
        if (r < 0 && errno == EINTR) {
            if (g_signal)
                return -EINTR;
            continue;
        }
        if (r <= 0)
            return r < 0 ? -errno : 0;
        f->len += (size_t)r;
    }
}

static int process_launcher_off(void)
{
    const char *e = getenv("FUNK_PROCESS_LAUNCHER");
    return e && strcmp(e, "off") == 0;
}

static void drop_capabilities(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
    syscall(SYS_capset, &h, d);
}

/* Runs in the container process (after clone); never returns. */
static void child_main(const struct rt_bundle *b, const char *statedir, int syncfd, const int *nsfd,
                       const char *elf, size_t elf_len)
{
    char path[PATH_MAX];
    /* Namespaces given by path (pid was entered by the parent before the clone). */
    for (size_t i = 0; i < b->nns; i++) {
        if (nsfd[i] < 0 || b->ns[i].type == CLONE_NEWPID)
            continue;
        if (setns(nsfd[i], b->ns[i].type) < 0)
            child_fail(syncfd, "cannot join namespace %s: %s", b->ns[i].path, strerror(errno));
        close(nsfd[i]);
    }
    /* Only the sync pipe and stdio stay open: the monitor holds no descriptor of its caller. */
    if (syncfd > 3)
        close_range(3, (unsigned)syncfd - 1, 0);
    close_range((unsigned)syncfd + 1, ~0u, 0);

    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: the fifo wait and KVM_RUN must return EINTR */
    static const int fwd[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
        sigaction(fwd[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int newns = 0;
    for (size_t i = 0; i < b->nns; i++)
        if (b->ns[i].type == CLONE_NEWNS && !b->ns[i].path)
            newns = 1;
    if (newns && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        child_fail(syncfd, "cannot make the mount namespace private: %s", strerror(errno));
    for (size_t i = 0; i < b->nns; i++)
        if (b->ns[i].type == CLONE_NEWUTS && b->hostname &&
            sethostname(b->hostname, strlen(b->hostname)) < 0)
            child_fail(syncfd, "sethostname '%s': %s", b->hostname, strerror(errno));

    /* Block devices are files of the rootfs, opened before the chroot. */
    int rootfd = open(b->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        child_fail(syncfd, "rootfs '%s': %s", b->rootfs, strerror(errno));
    struct funk_vm_device devs[RT_MAX_BLOCK + 1];
    for (size_t i = 0; i < b->nblock; i++) {
        int fd = rt_open_in_root(rootfd, b->block[i].path, O_RDWR);
        if (fd < 0)
            child_fail(syncfd, "block device %s: cannot open %s in the rootfs: %s",
                       b->block[i].name, b->block[i].path,
                       fd == -EINVAL ? "not a regular file" : strerror(-fd));
        devs[i] =
            (struct funk_vm_device){.name = b->block[i].name, .type = FUNK_VM_DEV_BLOCK, .fd = fd};
    }

    /* Network: a tap in this namespace, bridged to its interface; the guest learns the address
     * from its environment. Done before the chroot (it runs tc). */
    size_t ndevs = b->nblock;
    char **env = b->env;
    if (b->net) {
        char nerr[512], *extra[3] = {NULL, NULL, NULL};
        int tap;
        if (rt_net_setup(&tap, extra, nerr, sizeof nerr) < 0)
            child_fail(syncfd, "network: %s", nerr);
        devs[ndevs++] = (struct funk_vm_device){.name = b->net, .type = FUNK_VM_DEV_NET, .fd = tap};
        size_t n = 0;
        while (b->env && b->env[n])
            n++;
        env = calloc(n + 4, sizeof *env);
        if (!env)
            child_fail(syncfd, "out of memory");
        for (size_t i = 0; i < n; i++)
            env[i] = b->env[i];
        for (size_t i = 0; i < 3; i++)
            env[n + i] = extra[i];
    }

    /* The expensive part of a VM (KVM VM, vCPU, memory) is made now, so `start` only runs it. */
    int iso = b->isolation == FUNK_ISOLATION_AUTO ? funk_vm_isolation_auto() : b->isolation;
    unsigned vmflags = iso == FUNK_ISOLATION_PROCESS ? FUNK_VM_F_PROCESS : 0;
    if (b->stdio)
        vmflags |= FUNK_VM_F_LINUX; /* the monitor's Linux personality */
    int rc = funk_vm_shell_new(b->mem_bytes, vmflags, &g_vm);
    if (rc)
        child_fail(syncfd, "cannot create a %s: %s%s", vmflags ? "process-backend guest" : "KVM VM",
                   strerror(-rc),
                   !vmflags && (rc == -ENOENT || rc == -EACCES)
                       ? " (is /dev/kvm available to the runtime?)"
                       : "");
    /* ACCEL: connected to the agent while loading (hc_accel setup), i.e. from the host's side
     * of the container, before chroot; the sandbox then allows only that connection. */
    if (b->accel && funk_vm_accel_set(b->accel) < 0)
        child_fail(syncfd, "accel agent '%s' refused", b->accel + 6);
    struct funk_vm_boot boot = {
        .cmdline = b->cmdline, .env = (const char *const *)env, .devs = devs, .ndevs = ndevs};
    if (b->stdio) {
        /* argv and envp as the spec gives them, the rootfs (read-only, copied now, before the
         * chroot, with no link followed) as the program's "/" */
        boot = (struct funk_vm_boot){.argv = (const char *const *)b->argv,
                                     .env = (const char *const *)env,
                                     .bundle = b->rootfs};
    }
    rc = funk_vm_load(g_vm, elf, elf_len, &boot);
    if (rc && !b->stdio && boot.env && boot.env[0] && strstr(funk_vm_error(g_vm), "no funk note")) {
        /* A plain Solo5 guest has no environment: load it without. */
        funk_vm_delete(g_vm);
        g_vm = NULL;
        boot.env = NULL;
        rc = funk_vm_shell_new(b->mem_bytes, vmflags, &g_vm);
        if (rc == 0)
            rc = funk_vm_load(g_vm, elf, elf_len, &boot);
    }
    if (rc)
        child_fail(syncfd, "%s: the %s was refused: %s", b->binary,
                   b->stdio ? "stdio program (com.funk.io=stdio)" : "unikernel",
                   g_vm ? funk_vm_error(g_vm) : strerror(-rc));

    snprintf(path, sizeof path, "%s/exec.fifo", statedir);
    int fifo = open(path, O_RDWR | O_CLOEXEC);
    if (fifo < 0)
        child_fail(syncfd, "exec fifo %s: %s", path, strerror(errno));
    for (size_t i = 0; i < b->nrlimit; i++) {
        struct rlimit rl = {.rlim_cur = b->rlimit[i].soft, .rlim_max = b->rlimit[i].hard};
        if (setrlimit(b->rlimit[i].resource, &rl) < 0)
            child_fail(syncfd, "process.rlimits[%zu]: setrlimit: %s", i, strerror(errno));
    }
    /* A process guest comes from the clean launcher, never from this process (issue 11): start
     * it now, while it can still be exec'd and with the limits above, inside the rootfs and as
     * the user we are about to become, so that we can still kill its guests once every
     * capability is gone. FUNK_PROCESS_LAUNCHER=off (the operator's switch) forks instead. */
    if (iso == FUNK_ISOLATION_PROCESS && !process_launcher_off()) {
        rc = funk_vm_process_prepare(newns ? rootfd : -1, (long)b->uid, (long)b->gid);
        if (rc)
            child_fail(syncfd, "cannot start the process backend's launcher: %s", strerror(-rc));
    }
    if (newns) {
        if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
            child_fail(syncfd, "cannot enter the rootfs %s: %s", b->rootfs, strerror(errno));
    }
    close(rootfd);
    /* Every file is open: the monitor needs no root from here (process.user). */
    if (b->uid || b->gid || b->ngroups) {
        if (setgroups(b->ngroups, (const gid_t *)b->groups) < 0 ||
            setresgid(b->gid, b->gid, b->gid) < 0 || setresuid(b->uid, b->uid, b->uid) < 0)
            child_fail(syncfd, "cannot switch to process.user %u:%u: %s", b->uid, b->gid,
                       strerror(errno));
    }
    /* Ready: the parent records the state and returns; an empty sync message means success. */
    close(syncfd);

    char c;
    ssize_t r;
    while ((r = read(fifo, &c, 1)) < 0 && errno == EINTR && !g_signal)
        ;
    if (g_signal)
        _exit(128 + g_signal);
    if (r != 1)
        _exit(127);
    close(fifo);

    if (b->serve) {
        /* a classic-watchdog function: HTTP in the container's network namespace, a fresh guest
         * per request (the one loaded above only proved the program loads) */
        funk_vm_delete(g_vm);
        g_vm = NULL;
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        drop_capabilities();
        _exit(rt_stdio_serve(b, elf, elf_len, newns ? "/" : b->rootfs));
    }
    struct rt_fn fn = {0};
    struct funk_vm_io io = {0};
    if (strcmp(b->mode, "fn") == 0) {
        if (read_stdin(&fn) < 0)
            _exit(g_signal ? 128 + g_signal : FUNK_EXIT_IO);
        io = (struct funk_vm_io){
            .recv = fn_recv, .send = fn_send, .console = fn_console, .opaque = &fn};
    }
    /* Unbuffered stdio: output is not lost when the container is killed, and stdio never probes
     * the descriptors (isatty's ioctl) once the sandbox forbids it. */
    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    drop_capabilities();
    if (funk_vm_sandbox(g_vm) < 0) {
        static const char m[] = "funk-runtime: installing the seccomp filter failed\n";
        if (write(2, m, sizeof m - 1) < 0)
            _exit(FUNK_EXIT_SETUP);
        _exit(FUNK_EXIT_SETUP);
    }
    struct funk_vm_result res;
    rc = funk_vm_run(g_vm, &io, &res);
    if (g_signal)
        _exit(128 + g_signal);
    if (rc)
        _exit(FUNK_EXIT_SETUP);
    if (res.exit != FUNK_VM_EXIT_HALT) {
        char m[300];
        int n = snprintf(m, sizeof m, "funk-runtime: %s\n", res.reason);
        if (n > 0 && write(2, m, (size_t)n) < 0)
            _exit(funk_vm_result_exit_code(&res));
    }
    int code = funk_vm_result_exit_code(&res);
    if (code == 0 && fn.status >= 400) {
        /* fn mode: the function said it failed (an ACCEL call without an agent answers 502):
         * the container fails too, so podman/ctr callers and scripts see it. */
        char m[96];
        int n = snprintf(m, sizeof m, "funk-runtime: the function answered status %u\n", fn.status);
        if (n > 0 && write(2, m, (size_t)n) < 0)
            _exit(1);
        code = 1;
    }
    /* _exit: the kernel reclaims the VM faster than a teardown would. */
    _exit(code);
}

pid_t rt_container_create(const struct rt_bundle *b, const char *statedir, char *err, size_t errlen)
{
    int nsfd[RT_MAX_NS];
    int flags = 0, sync[2] = {-1, -1};
    pid_t pid = -1;
    char *elf = NULL;
    size_t elf_len = 0;

    for (size_t i = 0; i < RT_MAX_NS; i++)
        nsfd[i] = -1;
    int rootfd = open(b->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        snprintf(err, errlen, "rootfs '%s': %s", b->rootfs, strerror(errno));
        return -ENOENT;
    }
    int rc = read_file(rootfd, b->binary, &elf, &elf_len);
    close(rootfd);
    if (rc) {
        snprintf(err, errlen, "unikernel binary '%s' in rootfs %s: %s", b->binary, b->rootfs,
                 rc == -EINVAL ? "not a regular file" : strerror(-rc));
        return rc;
    }
    for (size_t i = 0; i < b->nns; i++) {
        if (!b->ns[i].path) {
            flags |= b->ns[i].type;
            continue;
        }
        nsfd[i] = open(b->ns[i].path, O_RDONLY | O_CLOEXEC);
        if (nsfd[i] < 0) {
            snprintf(err, errlen, "namespace path '%s': %s", b->ns[i].path, strerror(errno));
            rc = -errno;
            goto out;
        }
        if (b->ns[i].type == CLONE_NEWPID && setns(nsfd[i], CLONE_NEWPID) < 0) {
            snprintf(err, errlen, "cannot join pid namespace '%s': %s", b->ns[i].path,
                     strerror(errno));
            rc = -errno;
            goto out;
        }
    }
    if (pipe2(sync, O_CLOEXEC) < 0) {
        rc = -errno;
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    /* fork-like clone into the new namespaces: the child continues on a copy of this stack. */
    pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid < 0) {
        rc = -errno;
        snprintf(err, errlen, "clone into new namespaces (flags 0x%x): %s", (unsigned)flags,
                 strerror(errno));
        goto out;
    }
    if (pid == 0) {
        close(sync[0]);
        child_main(b, statedir, sync[1], nsfd, elf, elf_len);
    }
    close(sync[1]);
    sync[1] = -1;
    char msg[512];
    ssize_t n, got = 0;
    while ((n = read(sync[0], msg + got, sizeof msg - 1 - (size_t)got)) > 0 ||
           (n < 0 && errno == EINTR))
        if (n > 0)
            got += n;
    msg[got] = '\0';
    if (got > 0) {
        snprintf(err, errlen, "%s", msg);
        waitpid(pid, NULL, 0);
        rc = -EINVAL;
        goto out;
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
        snprintf(err, errlen, "the container process died during set-up (status 0x%x)",
                 (unsigned)st);
        rc = -ECHILD;
        goto out;
    }
    rc = pid;
out:
    for (size_t i = 0; i < RT_MAX_NS; i++)
        if (nsfd[i] >= 0)
            close(nsfd[i]);
    if (sync[0] >= 0)
        close(sync[0]);
    if (sync[1] >= 0)
        close(sync[1]);
    free(elf);
    return rc;
}
