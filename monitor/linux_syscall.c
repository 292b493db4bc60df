/* SPDX-License-Identifier: Apache-2.0 */
/* Linux personality: the system calls a static program makes, served inside the guest process. */
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "linux.h"

/*
 * Every argument is a hostile value from the guest. A guest pointer is usable only when the
 * whole range lies inside guest memory on pages the page map says are readable (or writable):
 * otherwise the call answers -EFAULT, as Linux does. Guest memory is identity-mapped in this
 * process, so a checked guest address is the host pointer. The fds are a fixed world: 0 is the
 * function input (the request body), 1 the function output (the response body, sent when the
 * guest exits), 2 the log (console frames); there is no other fd, no file, no process, no socket.
 * A call not served here answers -ENOSYS and is logged once per number (with its name).
 *
 * The same code serves the KVM backend (linux_kvm_x86_64.c), in the monitor process: there
 * lx_host says where guest memory lies in this process, how the guest's page tables follow the
 * page map, and where the function's I/O and the end of the run go. Without it (the process
 * backend) guest memory is identity-mapped and the guest process's channel is used.
 */

#define PAGE 4096ull
#define LX_PID 1
#define LX_UID 65534
#define OUT_MAX (64ull << 20) /* the response body a guest may write */

static struct funk_vm *lx_vm;
static bool lx_funk; /* the program carries the funk note: it may make funk hypercalls */
/* It has made an FN_RECV/FN_SEND: its function I/O is those, stdin is empty and stdout is the
 * log from then on. A program with the note that never does (a vAccel program using only
 * ACCEL) keeps the stdio contract: stdin the request, stdout the answer. */
static bool lx_fn_mode;
static uint8_t lx_pages[(4ull << 30) / PAGE]; /* one byte per guest page (bss: untouched) */
static uint64_t mem_size, brk_start, brk_cur, brk_max, mmap_lo, mmap_hi;
/* /proc/self/exe: always absolute on Linux (glibc asserts it): argv[0] when absolute, else
 * "/" and its last component */
static char exe_name[256];

/* fd state */
static int have_req; /* 0: not asked yet, 1: a request, 2: none will come */
static struct funk_vm_request req;
static uint64_t in_off;
static uint8_t *out_buf; /* reserved at start (outside guest memory) */
static uint64_t out_len;
static unsigned closed_fds; /* bit per fd 0..2 */
static uint8_t sigactions[65][32];
static uint64_t sigmask;
static struct {
    uint64_t sp;
    int32_t flags;
    uint64_t size;
} altstack = {0, SS_DISABLE, 0};
static uint64_t calls;

/* The bundle (read-only files) and the open files: fds LX_FD0 .. LX_FD0 + LX_NFILES - 1. */
#define LX_FD0 3
#define LX_NFILES 64
static const struct lx_bundle *bundle;
static const struct lx_bentry *bent;
static const char *bnames;
static const uint8_t *bdata;
static struct {
    int used;
    uint32_t ent;
    uint64_t off; /* files: byte offset; directories: next getdents position */
} files[LX_NFILES];
static uint64_t refused_logged[8];       /* bit per system call number < 512 */
static const struct linux_host *lx_host; /* NULL: the process backend */
static uintptr_t lx_base;                /* host address of guest address 0 */

/* The host address of a guest address (checked by the caller). */
static void *hp(uint64_t a)
{
    return (void *)(lx_base + (uintptr_t)a);
}

static void lx_mprotect(uint64_t a, uint64_t len, int prot)
{
    if (lx_host)
        lx_host->protect(a, len, prot);
    else
        mprotect(hp(a), len, prot);
}

static void lx_console(const char *data, size_t len)
{
    if (lx_host)
        lx_host->console(data, len);
    else
        vm_process_child_console(data, len);
}

/* Ends the guest. The process backend never returns; the KVM one records the first end and
 * returns (its run loop stops after this call). */
static void lx_exit(enum funk_vm_exit exit, int status, const char *reason)
{
    if (lx_host)
        lx_host->exit(exit, status, reason);
    else
        vm_process_child_exit(exit, status, reason);
}

void linux_syscall_host(const struct linux_host *h)
{
    lx_host = h;
    lx_base = h ? (uintptr_t)h->mem : 0;
}

void linux_pages_reset(uint64_t mem)
{
    uint64_t n = mem / PAGE;
    memset(lx_pages, 0, n < sizeof lx_pages ? n : sizeof lx_pages);
}

void linux_syscall_process_start(uint64_t mem)
{
    if (lx_host) /* inherited from a library user's KVM Linux guest (a legacy fork) */
        linux_pages_reset(mem);
    linux_syscall_host(NULL);
}

void linux_pages_set(uint64_t addr, uint64_t len, uint8_t v)
{
    for (uint64_t p = addr / PAGE; p < (addr + len + PAGE - 1) / PAGE && p < sizeof lx_pages; p++)
        lx_pages[p] = v;
    if (lx_host)
        lx_host->pages(addr, len, v);
}

/* A guest range that is inside guest memory and `need` (LX_R / LX_W) on every page. */
static void *gptr(uint64_t a, uint64_t len, uint8_t need)
{
    if (a < PROCESS_MEM_BASE || a > mem_size || len > mem_size - a)
        return NULL;
    if (len == 0)
        return hp(a);
    for (uint64_t p = a / PAGE; p <= (a + len - 1) / PAGE; p++)
        if ((lx_pages[p] & need) != need)
            return NULL;
    return hp(a);
}

/* Guest structures are copied in and out byte-wise: a guest may pass any alignment (Linux
 * accepts that), and a misaligned typed access would be undefined behaviour on our side. */
static int gget(uint64_t a, void *dst, size_t n)
{
    const void *p = gptr(a, n, LX_R);
    if (!p)
        return -EFAULT;
    memcpy(dst, p, n);
    return 0;
}

static int gput(uint64_t a, const void *src, size_t n)
{
    void *p = gptr(a, n, LX_W);
    if (!p)
        return -EFAULT;
    memcpy(p, src, n);
    return 0;
}

static void lx_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void lx_log(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        lx_console(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static const char *sys_name(uint64_t nr)
{
    static const struct {
        unsigned nr;
        const char *name;
    } t[] = {
        {SYS_read, "read"},
        {SYS_mmap, "mmap"},
        {SYS_mprotect, "mprotect"},
        {SYS_openat, "openat"},
        {SYS_readlink, "readlink"},
        {SYS_readlinkat, "readlinkat"},
        {SYS_prlimit64, "prlimit64"},
        {SYS_futex, "futex"},
        {SYS_getdents64, "getdents64"},
        {SYS_write, "write"},
        {SYS_open, "open"},
        {SYS_close, "close"},
        {SYS_stat, "stat"},
        {SYS_lstat, "lstat"},
        {SYS_access, "access"},
        {SYS_pipe, "pipe"},
        {SYS_select, "select"},
        {SYS_msync, "msync"},
        {SYS_mincore, "mincore"},
        {SYS_shmget, "shmget"},
        {SYS_dup, "dup"},
        {SYS_dup2, "dup2"},
        {SYS_pause, "pause"},
        {SYS_alarm, "alarm"},
        {SYS_setitimer, "setitimer"},
        {SYS_sendfile, "sendfile"},
        {SYS_socket, "socket"},
        {SYS_connect, "connect"},
        {SYS_accept, "accept"},
        {SYS_sendto, "sendto"},
        {SYS_recvfrom, "recvfrom"},
        {SYS_bind, "bind"},
        {SYS_listen, "listen"},
        {SYS_socketpair, "socketpair"},
        {SYS_clone, "clone"},
        {SYS_fork, "fork"},
        {SYS_vfork, "vfork"},
        {SYS_execve, "execve"},
        {SYS_wait4, "wait4"},
        {SYS_kill, "kill"},
        {SYS_shmat, "shmat"},
        {SYS_flock, "flock"},
        {SYS_fsync, "fsync"},
        {SYS_truncate, "truncate"},
        {SYS_ftruncate, "ftruncate"},
        {SYS_getdents, "getdents"},
        {SYS_chdir, "chdir"},
        {SYS_rename, "rename"},
        {SYS_mkdir, "mkdir"},
        {SYS_rmdir, "rmdir"},
        {SYS_creat, "creat"},
        {SYS_link, "link"},
        {SYS_unlink, "unlink"},
        {SYS_symlink, "symlink"},
        {SYS_chmod, "chmod"},
        {SYS_utimensat, "utimensat"},
        {SYS_mkdirat, "mkdirat"},
        {SYS_unlinkat, "unlinkat"},
        {SYS_renameat, "renameat"},
        {SYS_renameat2, "renameat2"},
        {SYS_linkat, "linkat"},
        {SYS_symlinkat, "symlinkat"},
        {SYS_fchmodat, "fchmodat"},
        {SYS_fchownat, "fchownat"},
        {SYS_lchown, "lchown"},
        {SYS_mknodat, "mknodat"},
        {SYS_chown, "chown"},
        {SYS_umask, "umask"},
        {SYS_getrusage, "getrusage"},
        {SYS_sysinfo, "sysinfo"},
        {SYS_times, "times"},
        {SYS_ptrace, "ptrace"},
        {SYS_setuid, "setuid"},
        {SYS_setgid, "setgid"},
        {SYS_setsid, "setsid"},
        {SYS_capget, "capget"},
        {SYS_personality, "personality"},
        {SYS_statfs, "statfs"},
        {SYS_prctl, "prctl"},
        {SYS_setrlimit, "setrlimit"},
        {SYS_chroot, "chroot"},
        {SYS_mount, "mount"},
        {SYS_reboot, "reboot"},
        {SYS_init_module, "init_module"},
        {SYS_tkill, "tkill"},
        {SYS_tgkill, "tgkill"},
        {SYS_io_uring_setup, "io_uring_setup"},
        {SYS_epoll_create1, "epoll_create1"},
        {SYS_pipe2, "pipe2"},
        {SYS_dup3, "dup3"},
        {SYS_statx, "statx"},
        {SYS_rseq, "rseq"},
        {SYS_clone3, "clone3"},
        {SYS_execveat, "execveat"},
        {SYS_memfd_create, "memfd_create"},
        {SYS_process_vm_readv, "process_vm_readv"},
        {SYS_bpf, "bpf"},
        {SYS_seccomp, "seccomp"},
        {SYS_unshare, "unshare"},
        {SYS_setns, "setns"},
        {SYS_pidfd_open, "pidfd_open"},
        {SYS_faccessat, "faccessat"},
        {SYS_faccessat2, "faccessat2"},
        {SYS_fchdir, "fchdir"},
        {SYS_getcwd, "getcwd"},
        {SYS_membarrier, "membarrier"},
        {SYS_mlock, "mlock"},
        {SYS_sched_setaffinity, "sched_setaffinity"},
        {SYS_timer_create, "timer_create"},
        {SYS_eventfd2, "eventfd2"},
        {SYS_signalfd4, "signalfd4"},
        {SYS_inotify_init1, "inotify_init1"},
        {SYS_open_tree, "open_tree"},
        {SYS_openat2, "openat2"},
        {SYS_keyctl, "keyctl"},
        {SYS_add_key, "add_key"},
        {SYS_perf_event_open, "perf_event_open"},
        {SYS_userfaultfd, "userfaultfd"},
        {SYS_pkey_mprotect, "pkey_mprotect"},
        {SYS_getpgrp, "getpgrp"},
        {SYS_setpgid, "setpgid"},
        {SYS_getpgid, "getpgid"},
        {SYS_getsid, "getsid"},
        {SYS_getgroups, "getgroups"},
        {SYS_sysfs, "sysfs"},
        {SYS_waitid, "waitid"},
        {SYS_fchmod, "fchmod"},
        {SYS_mknod, "mknod"},
        {SYS_iopl, "iopl"},
        {SYS_ioperm, "ioperm"},
        {SYS_modify_ldt, "modify_ldt"},
        {SYS_get_mempolicy, "get_mempolicy"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].nr == nr)
            return t[i].name;
    return "?";
}

static int64_t refuse(uint64_t nr, int64_t err)
{
    if (nr < 512 && !(refused_logged[nr / 64] & (1ull << (nr % 64)))) {
        refused_logged[nr / 64] |= 1ull << (nr % 64);
        lx_log("funk-monitor: linux: system call %llu (%s) refused: %s\n", (unsigned long long)nr,
               sys_name(nr), err == -ENOSYS ? "not served (ENOSYS)" : strerror((int)-err));
    } else if (nr >= 512 && nr != ~0ull) {
        lx_log("funk-monitor: linux: system call %llu refused\n", (unsigned long long)nr);
    }
    return err;
}

void linux_syscall_init(struct funk_vm *vm, const struct linux_boot *lb, uint64_t stack_lo)
{
    lx_vm = vm;
    lx_funk = vm->img.has_funk;
    lx_fn_mode = false;
    mem_size = vm->mem_size;
    /* Everything a previous guest of this process left (KVM runs guests in the monitor). */
    have_req = 0;
    memset(&req, 0, sizeof req);
    in_off = out_len = 0;
    closed_fds = 0;
    memset(sigactions, 0, sizeof sigactions);
    sigmask = 0;
    altstack.sp = 0;
    altstack.flags = SS_DISABLE;
    altstack.size = 0;
    calls = 0;
    bundle = NULL;
    memset(files, 0, sizeof files);
    memset(refused_logged, 0, sizeof refused_logged);
    brk_start = brk_cur = lb->brk_start;
    /* brk may take a quarter of the free space; mmap takes the rest, top-down. */
    uint64_t free_sp = stack_lo - brk_start;
    brk_max = brk_start + ((free_sp / 4) & ~(PAGE - 1));
    mmap_lo = brk_max;
    mmap_hi = stack_lo;
    const char *a0 = lb->strings[0] ? lb->strings : "guest";
    const char *last = strrchr(a0, '/');
    const char *tail = a0[0] == '/' ? a0 : last ? last + 1 : a0;
    size_t k = 0;
    if (tail[0] != '/')
        exe_name[k++] = '/';
    for (size_t i = 0; tail[i] && k + 1 < sizeof exe_name; i++)
        exe_name[k++] = tail[i];
    exe_name[k] = '\0';
    if (lb->bundle_len >= sizeof *bundle && lb->bundle_off <= vm->elf_len &&
        lb->bundle_len <= vm->elf_len - lb->bundle_off) {
        const struct lx_bundle *bh = (const void *)(vm->elf_copy + lb->bundle_off);
        /* built by the library user; still checked, so a bad blob means "no bundle" */
        if (bh->magic == LX_BUNDLE_MAGIC && bh->len == lb->bundle_len && bh->n >= 1 &&
            bh->n <= LX_BUNDLE_MAX_ENTRIES &&
            bh->names_off == sizeof *bh + (uint64_t)bh->n * sizeof(struct lx_bentry) &&
            bh->names_off <= bh->data_off && bh->data_off <= bh->len) {
            bundle = bh;
            bent = (const struct lx_bentry *)(bh + 1);
            bnames = (const char *)bh + bh->names_off;
            bdata = (const uint8_t *)bh + bh->data_off;
            for (uint32_t i = 0; i < bh->n; i++)
                if (bent[i].parent >= bh->n ||
                    bent[i].name_off + (uint64_t)bent[i].name_len >= bh->data_off - bh->names_off ||
                    bent[i].data_off > bh->len - bh->data_off ||
                    bent[i].size > bh->len - bh->data_off - bent[i].data_off)
                    bundle = NULL;
        }
    }
    if (out_buf) { /* a later guest in the same process (KVM): the buffer is reused */
        madvise(out_buf, OUT_MAX, MADV_DONTNEED);
        return;
    }
    void *o = mmap(NULL, OUT_MAX, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (o == MAP_FAILED) {
        lx_exit(FUNK_VM_EXIT_INTERNAL, 0, "linux: cannot reserve the output buffer");
        return;
    }
    out_buf = o;
}

static int fd_ok(uint64_t fd);

/* ---- bundle files --------------------------------------------------------------------- */

static int64_t file_slot(uint64_t fd)
{
    if (fd < LX_FD0 || fd >= LX_FD0 + LX_NFILES || !files[fd - LX_FD0].used)
        return -1;
    return (int64_t)(fd - LX_FD0);
}

/* Copies a NUL-terminated guest path (at most 4095 bytes) into buf. */
static int64_t gpath(uint64_t a, char *buf, size_t cap)
{
    for (size_t i = 0; i < cap; i++) {
        const char *c = gptr(a + i, 1, LX_R);
        if (!c)
            return -EFAULT;
        buf[i] = *c;
        if (!*c)
            return 0;
    }
    return -ENAMETOOLONG;
}

/* Resolves path from directory entry `dir` inside the bundle ("/" is its root; ".." stops at
 * the root): the entry index, or -ENOENT / -ENOTDIR. */
static int64_t resolve(uint32_t dir, const char *path)
{
    if (!bundle)
        return -ENOENT;
    uint32_t cur = path[0] == '/' ? 0 : dir;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (!bent[cur].is_dir)
            return -ENOTDIR;
        if (l == 1 && p[0] == '.') {
        } else if (l == 2 && p[0] == '.' && p[1] == '.') {
            cur = bent[cur].parent;
        } else {
            uint32_t i;
            for (i = 1; i < bundle->n; i++)
                if (bent[i].parent == cur && bent[i].name_len == l &&
                    memcmp(bnames + bent[i].name_off, p, l) == 0)
                    break;
            if (i == bundle->n)
                return -ENOENT;
            cur = i;
        }
        p += l;
    }
    return cur;
}

/* dirfd + guest path -> entry. */
static int64_t lookup(int64_t dirfd, uint64_t path_addr, int empty_ok, int64_t *fd_only)
{
    char path[4096];
    int64_t rc = gpath(path_addr, path, sizeof path);
    if (rc)
        return rc;
    *fd_only = 0;
    if (!path[0]) {
        if (!empty_ok)
            return -ENOENT;
        *fd_only = 1;
        return 0;
    }
    uint32_t dir = 0;
    if (path[0] != '/' && dirfd != AT_FDCWD) {
        int64_t s = dirfd >= 0 ? file_slot((uint64_t)dirfd) : -1;
        if (s < 0)
            return -EBADF;
        if (!bent[files[s].ent].is_dir)
            return -ENOTDIR;
        dir = files[s].ent;
    }
    return resolve(dir, path);
}

static void stat_entry(struct stat *st, uint32_t i)
{
    memset(st, 0, sizeof *st);
    st->st_dev = 0xf1;
    st->st_ino = 2 + i;
    st->st_mode = bent[i].is_dir ? S_IFDIR | 0555 : S_IFREG | 0444;
    st->st_nlink = bent[i].is_dir ? 2 : 1;
    st->st_uid = 0;
    st->st_gid = 0;
    st->st_size = bent[i].is_dir ? 4096 : (off_t)bent[i].size;
    st->st_blksize = 4096;
    st->st_blocks = (st->st_size + 511) / 512;
}

static int64_t do_openat(int64_t dirfd, uint64_t path, uint64_t flags)
{
    int64_t fd_only;
    int64_t e = lookup(dirfd, path, 0, &fd_only);
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)) ||
        (flags & O_TMPFILE) == O_TMPFILE)
        return e == -EFAULT ? e : -EROFS; /* a read-only file system */
    if (e < 0)
        return e == -ENOENT ? refuse(SYS_openat, e) : e;
    if ((flags & O_DIRECTORY) && !bent[e].is_dir)
        return -ENOTDIR;
    for (int i = 0; i < LX_NFILES; i++)
        if (!files[i].used) {
            files[i].used = 1;
            files[i].ent = (uint32_t)e;
            files[i].off = 0;
            return LX_FD0 + i;
        }
    return -EMFILE;
}

static int64_t file_read(int64_t s, void *p, uint64_t n, uint64_t *off)
{
    const struct lx_bentry *e = &bent[files[s].ent];
    if (e->is_dir)
        return -EISDIR;
    if (*off >= e->size)
        return 0;
    uint64_t avail = e->size - *off;
    if (n > avail)
        n = avail;
    memcpy(p, bdata + e->data_off + *off, n);
    *off += n;
    return (int64_t)n;
}

static int64_t do_getdents64(uint64_t fd, uint64_t buf, uint64_t count)
{
    int64_t s = file_slot(fd);
    if (s < 0)
        return fd_ok(fd) ? -ENOTDIR : -EBADF;
    uint32_t dir = files[s].ent;
    if (!bent[dir].is_dir)
        return -ENOTDIR;
    if (count > (1u << 20))
        count = 1u << 20;
    uint8_t *out = gptr(buf, count, LX_W);
    if (!out)
        return -EFAULT;
    uint64_t used = 0;
    /* positions: 0 ".", 1 "..", then entry index + 2 for the children */
    for (uint64_t pos = files[s].off; pos < (uint64_t)bundle->n + 2; pos++) {
        const char *name;
        size_t nl;
        uint32_t ino;
        unsigned char type;
        if (pos < 2) {
            name = pos ? ".." : ".";
            nl = pos + 1;
            ino = 2 + (pos ? bent[dir].parent : dir);
            type = DT_DIR;
        } else {
            uint32_t i = (uint32_t)(pos - 2);
            if (i == 0 || bent[i].parent != dir)
                continue;
            name = bnames + bent[i].name_off;
            nl = bent[i].name_len;
            ino = 2 + i;
            type = bent[i].is_dir ? DT_DIR : DT_REG;
        }
        size_t reclen = (19 + nl + 1 + 7) & ~(size_t)7;
        if (reclen > count - used) {
            files[s].off = pos;
            return used ? (int64_t)used : -EINVAL;
        }
        uint8_t *d = out + used;
        memset(d, 0, reclen);
        uint64_t ino64 = ino;
        int64_t next = (int64_t)pos + 1;
        uint16_t rl = (uint16_t)reclen;
        memcpy(d, &ino64, 8);
        memcpy(d + 8, &next, 8);
        memcpy(d + 16, &rl, 2);
        d[18] = type;
        memcpy(d + 19, name, nl);
        used += reclen;
    }
    files[s].off = (uint64_t)bundle->n + 2;
    return (int64_t)used;
}

static int64_t do_lseek(uint64_t fd, int64_t off, uint64_t whence)
{
    int64_t s = file_slot(fd);
    if (s < 0)
        return fd_ok(fd) ? -ESPIPE : -EBADF;
    const struct lx_bentry *e = &bent[files[s].ent];
    if (e->is_dir) {
        if (whence != SEEK_SET || off != 0)
            return -EINVAL;
        files[s].off = 0;
        return 0;
    }
    int64_t base = whence == SEEK_SET   ? 0
                   : whence == SEEK_CUR ? (int64_t)files[s].off
                   : whence == SEEK_END ? (int64_t)e->size
                                        : -1;
    if (base < 0 || (off < 0 && off < -base) || (off > 0 && off > INT64_MAX - base))
        return -EINVAL;
    files[s].off = (uint64_t)(base + off);
    return base + off;
}

/* ---- fds 0/1/2 ------------------------------------------------------------------------- */

static void need_request(void)
{
    if (have_req)
        return;
    int rc = lx_host ? lx_host->recv(&req) : vm_process_child_recv(&req);
    have_req = rc == 0 ? 1 : 2;
    if (rc < 0)
        lx_exit(FUNK_VM_EXIT_IO, 0, "linux: fetching the function input failed");
}

/* Ends the guest (not declared noreturn: see vm_process_child_exit). */
static void finish(int status)
{
    if (lx_fn_mode) {
        /* Its function I/O was FN_RECV/FN_SEND; its stdout went to the log as it came. */
        char why[64];
        snprintf(why, sizeof why, "guest exited with status %d", status & 0xff);
        lx_exit(FUNK_VM_EXIT_HALT, status & 0xff, why);
        return;
    }
    need_request();
    if (have_req == 1) {
        struct funk_vm_response r = {.status = status == 0 ? 200 : 500,
                                     .body = out_len ? out_buf : NULL,
                                     .body_len = (size_t)out_len};
        if ((lx_host ? lx_host->send(&r) : vm_process_child_send(&r)) != 0)
            lx_exit(FUNK_VM_EXIT_IO, 0, "linux: sending the function output failed");
    } else if (out_len) {
        lx_console((const char *)out_buf, (size_t)out_len);
    }
    char why[64];
    snprintf(why, sizeof why, "guest exited with status %d", status & 0xff);
    lx_exit(FUNK_VM_EXIT_HALT, status & 0xff, why);
}

static int fd_ok(uint64_t fd)
{
    return fd <= 2 && !(closed_fds & (1u << fd));
}

static int64_t do_read(uint64_t fd, void *p, uint64_t n)
{
    int64_t s = file_slot(fd);
    if (s >= 0)
        return file_read(s, p, n, &files[s].off);
    if (!fd_ok(fd))
        return -EBADF;
    if (fd != 0)
        return -EBADF; /* 1 and 2 are write-only */
    if (lx_fn_mode)
        return 0; /* a funk function's input comes by FN_RECV: stdin is empty */
    need_request();
    uint64_t avail = have_req == 1 ? req.body_len - in_off : 0;
    if (n > avail)
        n = avail;
    if (n)
        memcpy(p, (const uint8_t *)req.body + in_off, n);
    in_off += n;
    return (int64_t)n;
}

static int64_t do_write(uint64_t fd, const void *p, uint64_t n)
{
    if (!fd_ok(fd) || fd == 0)
        return -EBADF;
    if (fd == 2 || lx_fn_mode) {
        /* stderr, and a funk function's stdout (its answer goes by FN_SEND): the log */
        lx_console(p, n);
        return (int64_t)n;
    }
    if (n > OUT_MAX - out_len) {
        if (out_len == OUT_MAX)
            return -ENOSPC;
        n = OUT_MAX - out_len;
    }
    memcpy(out_buf + out_len, p, n);
    out_len += n;
    return (int64_t)n;
}

static int64_t do_rw(uint64_t fd, uint64_t buf, uint64_t n, int wr)
{
    if (n > 0x7ffff000)
        n = 0x7ffff000;
    if (!wr) {
        /* Only the bytes that will be read must be writable (as on Linux: a short read into a
         * buffer that runs past the guest's mapping succeeds). */
        int64_t s = file_slot(fd);
        uint64_t avail = n;
        if (s >= 0 && !bent[files[s].ent].is_dir)
            avail =
                files[s].off < bent[files[s].ent].size ? bent[files[s].ent].size - files[s].off : 0;
        else if (fd == 0 && fd_ok(fd) && lx_fn_mode)
            avail = 0;
        else if (fd == 0 && fd_ok(fd)) {
            need_request();
            avail = have_req == 1 ? req.body_len - in_off : 0;
        }
        if (n > avail)
            n = avail;
    }
    void *p = gptr(buf, n, wr ? LX_R : LX_W);
    if (!p)
        return -EFAULT;
    return wr ? do_write(fd, p, n) : do_read(fd, p, n);
}

static int64_t do_rwv(uint64_t fd, uint64_t iov, uint64_t cnt, int wr)
{
    if (cnt > 1024)
        return -EINVAL;
    if (!gptr(iov, cnt * sizeof(struct iovec), LX_R))
        return -EFAULT;
    int64_t total = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        struct iovec v;
        if (gget(iov + i * sizeof v, &v, sizeof v))
            return total ? total : -EFAULT;
        uint64_t base = (uint64_t)(uintptr_t)v.iov_base, len = v.iov_len;
        if (len == 0)
            continue;
        int64_t r = do_rw(fd, base, len, wr);
        if (r < 0)
            return total ? total : r;
        total += r;
        if ((uint64_t)r < len)
            break;
    }
    return total;
}

static int64_t do_fstat(uint64_t fd, uint64_t buf)
{
    int64_t s = file_slot(fd);
    if (!fd_ok(fd) && s < 0)
        return -EBADF;
    struct stat st;
    if (s >= 0) {
        stat_entry(&st, files[s].ent);
        return gput(buf, &st, sizeof st);
    }
    memset(&st, 0, sizeof st);
    st.st_dev = 0xf0;
    st.st_ino = 100 + fd;
    st.st_mode = S_IFIFO | 0600;
    st.st_nlink = 1;
    st.st_uid = LX_UID;
    st.st_gid = LX_UID;
    st.st_blksize = 4096;
    return gput(buf, &st, sizeof st);
}

static int64_t do_poll(uint64_t fds, uint64_t nfds)
{
    if (nfds > 64)
        return -EINVAL;
    struct pollfd p[64];
    if (!gptr(fds, nfds * sizeof *p, LX_R | LX_W) || gget(fds, p, nfds * sizeof *p))
        return -EFAULT;
    int64_t n = 0;
    for (uint64_t i = 0; i < nfds; i++) {
        p[i].revents = 0;
        if (p[i].fd < 0)
            continue;
        if (file_slot((uint64_t)p[i].fd) >= 0)
            p[i].revents = (short)(p[i].events & (POLLIN | POLLOUT));
        else if (!fd_ok((uint64_t)p[i].fd))
            p[i].revents = POLLNVAL;
        else if (p[i].fd == 0)
            p[i].revents = (short)(p[i].events & POLLIN);
        else
            p[i].revents = (short)(p[i].events & POLLOUT);
        if (p[i].revents)
            n++;
    }
    return gput(fds, p, nfds * sizeof *p) ? -EFAULT : n;
}

/* ---- memory ----------------------------------------------------------------------------- */

static void pages_release(uint64_t a, uint64_t len)
{
    /* Back to zero-filled read-write pages, as the guest's next mapping expects. */
    madvise(hp(a), len, MADV_DONTNEED);
    lx_mprotect(a, len, PROT_READ | PROT_WRITE);
    linux_pages_set(a, len, LX_FREE);
}

static int range_is(uint64_t a, uint64_t len, int owner_a, int owner_b)
{
    for (uint64_t p = a / PAGE; p < (a + len) / PAGE; p++) {
        int o = lx_pages[p] & LX_OWNER;
        if (o != owner_a && o != owner_b)
            return 0;
    }
    return 1;
}

static uint8_t prot_bits(uint64_t prot)
{
    return (uint8_t)(((prot & PROT_READ) ? LX_R : 0) | ((prot & PROT_WRITE) ? LX_W | LX_R : 0));
}

/* Finds len free bytes in the mmap area, top-down. */
static uint64_t find_free(uint64_t len)
{
    uint64_t need = len / PAGE, run = 0;
    for (uint64_t p = mmap_hi / PAGE; p > mmap_lo / PAGE; p--) {
        if ((lx_pages[p - 1] & LX_OWNER) == LX_FREE) {
            if (++run == need)
                return (p - 1) * PAGE;
        } else {
            run = 0;
        }
    }
    return 0;
}

static int64_t do_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int64_t fd,
                       uint64_t file_off)
{
    int64_t fs = -1;
    if (!(flags & MAP_ANONYMOUS)) {
        /* A bundle file: a private copy (the file system is read-only anyway). */
        fs = fd >= 0 ? file_slot((uint64_t)fd) : -1;
        if (fs < 0)
            return fd >= 0 && fd <= 2 ? -EACCES : -EBADF;
        if (bent[files[fs].ent].is_dir)
            return -ENODEV;
        if ((flags & MAP_SHARED) && (prot & PROT_WRITE))
            return -EACCES;
    }
    if (prot & PROT_EXEC)
        return refuse(SYS_mmap, -EACCES); /* no code but the loaded text */
    if (prot & ~(uint64_t)(PROT_READ | PROT_WRITE))
        return -EINVAL;
    if (len == 0 || len > mem_size)
        return -EINVAL;
    len = (len + PAGE - 1) & ~(PAGE - 1);
    uint64_t a;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        if ((addr & (PAGE - 1)) || addr < PROCESS_MEM_BASE || addr > mem_size ||
            len > mem_size - addr)
            return -EINVAL;
        if (!range_is(addr, len, LX_FREE, (flags & MAP_FIXED_NOREPLACE) ? LX_FREE : LX_MMAP))
            return (flags & MAP_FIXED_NOREPLACE) ? -EEXIST : -ENOMEM;
        a = addr;
        pages_release(a, len);
    } else {
        a = find_free(len);
        if (!a)
            return -ENOMEM;
    }
    if (fs >= 0) {
        uint64_t off = file_off;
        file_read(fs, hp(a), len, &off);
    }
    if (!(prot & PROT_WRITE))
        lx_mprotect(a, len, (int)(prot & PROT_READ));
    linux_pages_set(a, len, (uint8_t)(LX_MMAP | prot_bits(prot)));
    return (int64_t)a;
}

static int64_t do_munmap(uint64_t a, uint64_t len)
{
    if ((a & (PAGE - 1)) || len == 0 || a < PROCESS_MEM_BASE || a > mem_size || len > mem_size - a)
        return -EINVAL;
    len = (len + PAGE - 1) & ~(PAGE - 1);
    if (len > mem_size - a)
        len = mem_size - a;
    for (uint64_t p = a; p < a + len; p += PAGE)
        if ((lx_pages[p / PAGE] & LX_OWNER) == LX_MMAP)
            pages_release(p, PAGE);
    return 0;
}

static int64_t do_mremap(uint64_t old, uint64_t olen, uint64_t nlen, uint64_t flags)
{
    if ((old & (PAGE - 1)) || olen == 0 || nlen == 0 || (flags & ~(uint64_t)MREMAP_MAYMOVE) ||
        old < PROCESS_MEM_BASE || olen > mem_size || nlen > mem_size || old > mem_size - olen)
        return -EINVAL;
    olen = (olen + PAGE - 1) & ~(PAGE - 1);
    nlen = (nlen + PAGE - 1) & ~(PAGE - 1);
    if (old > mem_size - olen || !range_is(old, olen, LX_MMAP, LX_MMAP))
        return -EFAULT;
    uint8_t bits = lx_pages[old / PAGE];
    if (nlen <= olen) {
        if (nlen < olen)
            do_munmap(old + nlen, olen - nlen);
        return (int64_t)old;
    }
    if (old + nlen <= mmap_hi && range_is(old + olen, nlen - olen, LX_FREE, LX_FREE)) {
        if (!(bits & LX_W))
            lx_mprotect(old + olen, nlen - olen, (bits & LX_R) ? PROT_READ : PROT_NONE);
        linux_pages_set(old + olen, nlen - olen, bits);
        return (int64_t)old;
    }
    if (!(flags & MREMAP_MAYMOVE))
        return -ENOMEM;
    uint64_t n = find_free(nlen);
    if (!n)
        return -ENOMEM;
    if (!(bits & LX_R) && !lx_host) /* the host mapping of KVM guest memory stays readable */
        mprotect(hp(old), olen, PROT_READ);
    memcpy(hp(n), hp(old), olen);
    if (!(bits & LX_W))
        lx_mprotect(n, nlen, (bits & LX_R) ? PROT_READ : PROT_NONE);
    linux_pages_set(n, nlen, bits);
    do_munmap(old, olen);
    return (int64_t)n;
}

static int64_t do_mprotect(uint64_t a, uint64_t len, uint64_t prot)
{
    if ((a & (PAGE - 1)) || a < PROCESS_MEM_BASE || a > mem_size || len > mem_size - a)
        return -EINVAL;
    len = (len + PAGE - 1) & ~(PAGE - 1);
    if (len > mem_size - a)
        return -ENOMEM;
    prot &= ~(uint64_t)(PROT_GROWSDOWN | PROT_GROWSUP);
    if (prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC))
        return -EINVAL;
    for (uint64_t p = a; p < a + len; p += PAGE) {
        uint8_t v = lx_pages[p / PAGE];
        if ((v & LX_OWNER) == LX_FREE)
            return -ENOMEM;
        /* Code stays code: the loaded text only as R+X (or R), nothing else ever executable. */
        if (((prot & PROT_EXEC) && !(v & LX_X)) || ((v & LX_X) && (prot & PROT_WRITE)))
            return refuse(SYS_mprotect, -EACCES);
    }
    for (uint64_t p = a; p < a + len; p += PAGE) {
        uint8_t v = lx_pages[p / PAGE];
        if (v & LX_X) {
            if (!(prot & PROT_EXEC)) /* dropping exec from text: allowed, never re-added */
                lx_mprotect(p, PAGE, (int)(prot & PROT_READ));
            continue;
        }
        lx_mprotect(p, PAGE, (int)(prot & (PROT_READ | PROT_WRITE)));
        linux_pages_set(p, PAGE, (uint8_t)((v & LX_OWNER) | prot_bits(prot)));
    }
    return 0;
}

static int64_t do_brk(uint64_t want)
{
    if (want < brk_start || want > brk_max)
        return (int64_t)brk_cur;
    uint64_t cur_pg = (brk_cur + PAGE - 1) & ~(PAGE - 1), new_pg = (want + PAGE - 1) & ~(PAGE - 1);
    if (new_pg > cur_pg) {
        if (!range_is(cur_pg, new_pg - cur_pg, LX_FREE, LX_FREE))
            return (int64_t)brk_cur;
        linux_pages_set(cur_pg, new_pg - cur_pg, LX_BRK | LX_R | LX_W);
    } else if (new_pg < cur_pg) {
        pages_release(new_pg, cur_pg - new_pg);
    }
    brk_cur = want;
    return (int64_t)brk_cur;
}

/* ---- time --------------------------------------------------------------------------------- */

static int64_t sleep_for(const struct timespec *d)
{
    if (d->tv_sec < 0 || d->tv_nsec < 0 || d->tv_nsec >= 1000000000)
        return -EINVAL;
    struct timespec t = *d;
    /* ppoll without fds: the monitor's own allowed way to wait (the run's timeout still holds) */
    syscall(SYS_ppoll, NULL, 0, &t, NULL, 0);
    return 0;
}

static int64_t do_clock_nanosleep(uint64_t clk, uint64_t flags, uint64_t reqp, uint64_t remp)
{
    struct timespec d;
    if (gget(reqp, &d, sizeof d))
        return -EFAULT;
    if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC && clk != CLOCK_BOOTTIME)
        return -EINVAL;
    if (flags & TIMER_ABSTIME) {
        struct timespec now;
        clock_gettime((clockid_t)clk, &now);
        if (d.tv_nsec < 0 || d.tv_nsec >= 1000000000)
            return -EINVAL;
        if (d.tv_sec < now.tv_sec || (d.tv_sec == now.tv_sec && d.tv_nsec <= now.tv_nsec))
            return 0;
        /* both are valid times: the difference cannot overflow for tv_sec >= now.tv_sec >= 0 */
        d.tv_sec -= now.tv_sec;
        d.tv_nsec -= now.tv_nsec;
        if (d.tv_nsec < 0) {
            d.tv_sec--;
            d.tv_nsec += 1000000000;
        }
    }
    int64_t rc = sleep_for(&d);
    if (rc == 0 && remp && !(flags & TIMER_ABSTIME)) {
        struct timespec zero = {0, 0};
        gput(remp, &zero, sizeof zero);
    }
    return rc;
}

static int64_t do_clock_gettime(uint64_t clk, uint64_t tsp)
{
    if (!gptr(tsp, sizeof(struct timespec), LX_W))
        return -EFAULT;
    if (clk == CLOCK_THREAD_CPUTIME_ID) /* one thread: the process's */
        clk = CLOCK_PROCESS_CPUTIME_ID;
    if (clk > CLOCK_TAI)
        return -EINVAL; /* other processes' CPU clocks */
    struct timespec ts;
    if (clock_gettime((clockid_t)clk, &ts) != 0)
        return -EINVAL;
    return gput(tsp, &ts, sizeof ts);
}

static int64_t do_getrandom(uint64_t buf, uint64_t len)
{
    if (len > (1u << 25))
        len = 1u << 25;
    uint8_t *p = gptr(buf, len, LX_W);
    if (!p)
        return -EFAULT;
    for (uint64_t done = 0; done < len;) {
        long r = syscall(SYS_getrandom, p + done, len - done > 256 ? 256 : len - done, 0);
        if (r <= 0)
            return done ? (int64_t)done : -EIO;
        done += (uint64_t)r;
    }
    return (int64_t)len;
}

/* ---- the table ---------------------------------------------------------------------------- */

static int64_t copy_str(uint64_t buf, uint64_t sz, const char *s)
{
    size_t l = strlen(s);
    if (l > sz)
        l = sz;
    void *p = gptr(buf, l, LX_W);
    if (!p)
        return -EFAULT;
    memcpy(p, s, l);
    return (int64_t)l;
}

static int path_is(uint64_t a, const char *want)
{
    size_t wl = strlen(want) + 1;
    const char *p = gptr(a, wl, LX_R);
    return p && memcmp(p, want, wl) == 0;
}

static int64_t do_rlimit(uint64_t res, uint64_t newp, uint64_t oldp)
{
    if (res >= 16)
        return -EINVAL;
    if (newp)
        return -EPERM;
    if (oldp) {
        uint64_t v = ~0ull;
        if (res == RLIMIT_STACK)
            v = mem_size - mmap_hi - PAGE;
        else if (res == RLIMIT_NOFILE)
            v = LX_FD0 + LX_NFILES;
        else if (res == RLIMIT_AS || res == RLIMIT_DATA)
            v = mem_size;
        else if (res == RLIMIT_NPROC)
            v = 1;
        else if (res == RLIMIT_CORE)
            v = 0;
        uint64_t o[2] = {v, v};
        if (gput(oldp, o, sizeof o))
            return -EFAULT;
    }
    return 0;
}

bool linux_guest_writable(uint64_t addr, uint64_t len)
{
    return gptr(addr, len, LX_W) != NULL;
}

/*
 * The guest memory a funk hypercall writes must be writable by the guest itself: the monitor
 * writes through its own mapping (under KVM one writable mapping of all guest memory), so
 * without this an FN_RECV aimed at the program's text would put request bytes there, past its
 * W^X. Only FN_RECV writes a guest buffer; every hypercall's struct is checked by hc_dispatch
 * for its bounds and here for the guest's own permission.
 */
static int64_t hc_args_ok(unsigned nr, uint64_t arg)
{
    if (nr != FUNK_HC_FN_RECV)
        return gptr(arg, 8, LX_R) ? 0 : -EFAULT;
    struct funk_hc_fn_recv rv;
    if (!gptr(arg, sizeof rv, LX_W) || gget(arg, &rv, sizeof rv))
        return -EFAULT;
    uint64_t buf = (uint64_t)(uintptr_t)rv.buf;
    if (rv.len && !gptr(buf, rv.len, LX_W))
        return -EFAULT;
    return 0;
}

int64_t linux_syscall(struct linux_regs *r)
{
    uint64_t *a = r->a;
    calls++;
    switch (r->nr) {
    case SYS_read:
        return do_rw(a[0], a[1], a[2], 0);
    case SYS_write:
        return do_rw(a[0], a[1], a[2], 1);
    case SYS_readv:
        return do_rwv(a[0], a[1], a[2], 0);
    case SYS_writev:
        return do_rwv(a[0], a[1], a[2], 1);
    case SYS_pread64: {
        int64_t s = file_slot(a[0]);
        if (s < 0)
            return fd_ok(a[0]) ? -ESPIPE : -EBADF;
        uint64_t n = a[2] > 0x7ffff000 ? 0x7ffff000 : a[2], off = a[3];
        void *p = gptr(a[1], n, LX_W);
        if ((int64_t)off < 0)
            return -EINVAL;
        return p ? file_read(s, p, n, &off) : -EFAULT;
    }
    case SYS_pwrite64:
        return file_slot(a[0]) >= 0 ? -EBADF : fd_ok(a[0]) ? -ESPIPE : -EBADF;
    case SYS_lseek:
        return do_lseek(a[0], (int64_t)a[1], a[2]);
    case SYS_getdents64:
        return do_getdents64(a[0], a[1], a[2]);
    case SYS_sendfile: {
        /* cat's way: a bundle file to stdout/stderr, straight from the image */
        int64_t s = file_slot(a[1]);
        if (s < 0 || !fd_ok(a[0]) || a[0] == 0)
            return -EINVAL; /* Linux: unsupported fd kinds */
        const struct lx_bentry *e = &bent[files[s].ent];
        if (e->is_dir)
            return -EISDIR;
        uint64_t off = files[s].off;
        if (a[2] && (!gptr(a[2], 8, LX_W) || gget(a[2], &off, 8)))
            return -EFAULT;
        uint64_t n = off < e->size ? e->size - off : 0;
        if (n > a[3])
            n = a[3];
        int64_t w = n ? do_write(a[0], bdata + e->data_off + off, n) : 0;
        if (w > 0) {
            uint64_t noff = off + (uint64_t)w;
            if (a[2])
                gput(a[2], &noff, 8);
            else
                files[s].off = noff;
        }
        return w;
    }
    case SYS_close: {
        int64_t s = file_slot(a[0]);
        if (s >= 0) {
            files[s].used = 0;
            return 0;
        }
        if (!fd_ok(a[0]))
            return -EBADF;
        closed_fds |= 1u << a[0];
        return 0;
    }
    case SYS_fstat:
        return do_fstat(a[0], a[1]);
    case SYS_newfstatat:
    case SYS_stat:
    case SYS_lstat: {
        int at = r->nr == SYS_newfstatat;
        int64_t dirfd = at ? (int64_t)(int)a[0] : AT_FDCWD, fd_only;
        int64_t e = lookup(dirfd, a[at], at && (a[3] & AT_EMPTY_PATH), &fd_only);
        if (e >= 0 && fd_only)
            return do_fstat((uint64_t)dirfd, a[at + 1]);
        if (e < 0)
            return e;
        struct stat st;
        stat_entry(&st, (uint32_t)e);
        return gput(a[at + 1], &st, sizeof st);
    }
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2: {
        int at = r->nr != SYS_access;
        int64_t fd_only;
        int64_t e = lookup(at ? (int64_t)(int)a[0] : AT_FDCWD, a[at], 0, &fd_only);
        if (e < 0)
            return e;
        return (a[at + 1] & W_OK) ? -EROFS : 0;
    }
    case SYS_utimensat: {
        int64_t fd_only;
        int64_t e = a[1]                   ? lookup((int64_t)(int)a[0], a[1], 0, &fd_only)
                    : file_slot(a[0]) >= 0 ? 0
                                           : -EBADF;
        return e < 0 ? e : -EROFS;
    }
    case SYS_mkdir:
    case SYS_mkdirat:
    case SYS_rmdir:
    case SYS_unlink:
    case SYS_unlinkat:
    case SYS_rename:
    case SYS_renameat:
    case SYS_renameat2:
    case SYS_link:
    case SYS_linkat:
    case SYS_symlink:
    case SYS_symlinkat:
    case SYS_chmod:
    case SYS_fchmodat:
    case SYS_chown:
    case SYS_fchownat:
    case SYS_lchown:
    case SYS_truncate:
    case SYS_creat:
    case SYS_mknod:
    case SYS_mknodat:
        return refuse(r->nr, -EROFS); /* the only file system is the read-only bundle */
    case SYS_open:
        return do_openat(AT_FDCWD, a[0], a[1]);
    case SYS_openat:
        return do_openat((int64_t)(int)a[0], a[1], a[2]);
    case SYS_fcntl:
        if (file_slot(a[0]) >= 0)
            return a[1] == F_GETFL                                           ? O_RDONLY
                   : (a[1] == F_GETFD || a[1] == F_SETFD || a[1] == F_SETFL) ? 0
                                                                             : -EINVAL;
        if (!fd_ok(a[0]))
            return -EBADF;
        switch (a[1]) {
        case F_GETFD:
        case F_SETFD:
        case F_SETFL:
            return 0;
        case F_GETFL:
            return a[0] == 0 ? O_RDONLY : O_WRONLY;
        default:
            return -EINVAL;
        }
    case SYS_ioctl:
        return fd_ok(a[0]) || file_slot(a[0]) >= 0 ? -ENOTTY : -EBADF;
    case SYS_poll:
        return do_poll(a[0], a[1]);
    case SYS_ppoll:
        return do_poll(a[0], a[1]);
    case SYS_mmap:
        if (!(a[3] & MAP_ANONYMOUS) && (a[5] & (PAGE - 1)))
            return -EINVAL;
        return do_mmap(a[0], a[1], a[2], a[3], (int64_t)a[4], a[5]);
    case SYS_munmap:
        return do_munmap(a[0], a[1]);
    case SYS_mremap:
        return do_mremap(a[0], a[1], a[2], a[3]);
    case SYS_mprotect:
        return do_mprotect(a[0], a[1], a[2]);
    case SYS_brk:
        return do_brk(a[0]);
    case SYS_madvise:
        if (a[2] == MADV_DONTNEED && (a[0] & (PAGE - 1)) == 0 && a[0] >= PROCESS_MEM_BASE &&
            a[0] <= mem_size && a[1] <= mem_size - a[0]) {
            for (uint64_t p = a[0]; p < a[0] + a[1]; p += PAGE) {
                int o = lx_pages[p / PAGE] & LX_OWNER;
                if ((o == LX_MMAP || o == LX_BRK || o == LX_STACK) && (lx_pages[p / PAGE] & LX_W))
                    madvise(hp(p), PAGE, MADV_DONTNEED);
            }
        }
        return 0;
    case SYS_exit:
    case SYS_exit_group:
        finish((int)a[0]);
        return 0;
    case SYS_arch_prctl:
        if (a[0] == ARCH_SET_FS) {
            if (a[1] >= (1ull << 47))
                return -EPERM;
            linux_guest_fs = a[1];
            return 0;
        }
        if (a[0] == ARCH_GET_FS) {
            return gput(a[1], &linux_guest_fs, 8);
        }
        return -EINVAL;
    case SYS_set_tid_address:
        return LX_PID;
    case SYS_set_robust_list:
        return 0;
    case SYS_rseq:
        return -ENOSYS;
    case SYS_rt_sigaction: {
        uint64_t sig = a[0];
        if (sig < 1 || sig > 64 || a[3] != 8)
            return -EINVAL;
        if (a[2]) {
            void *o = gptr(a[2], 32, LX_W);
            if (!o)
                return -EFAULT;
            memcpy(o, sigactions[sig], 32);
        }
        if (a[1]) {
            if (sig == SIGKILL || sig == SIGSTOP)
                return -EINVAL;
            const void *n = gptr(a[1], 32, LX_R);
            if (!n)
                return -EFAULT;
            memcpy(sigactions[sig], n, 32); /* recorded: no signal is ever delivered */
        }
        return 0;
    }
    case SYS_rt_sigprocmask: {
        if (a[3] != 8)
            return -EINVAL;
        uint64_t old = sigmask;
        if (a[1]) {
            uint64_t set;
            if (gget(a[1], &set, 8))
                return -EFAULT;
            if (a[0] == SIG_BLOCK)
                sigmask |= set;
            else if (a[0] == SIG_UNBLOCK)
                sigmask &= ~set;
            else if (a[0] == SIG_SETMASK)
                sigmask = set;
            else
                return -EINVAL;
        }
        if (a[2]) {
            if (gput(a[2], &old, 8))
                return -EFAULT;
        }
        return 0;
    }
    case SYS_sigaltstack: {
        if (a[1]) {
            void *o = gptr(a[1], 24, LX_W);
            if (!o)
                return -EFAULT;
            memcpy(o, &altstack, 24);
        }
        if (a[0]) {
            const void *n = gptr(a[0], 24, LX_R);
            if (!n)
                return -EFAULT;
            memcpy(&altstack, n, 24);
        }
        return 0;
    }
    case SYS_uname: {
        struct utsname u;
        memset(&u, 0, sizeof u);
        strcpy(u.sysname, "Linux");
        strcpy(u.nodename, "funk");
        strcpy(u.release, "6.1.0-funk");
        strcpy(u.version, "#1 SMP funk");
        strcpy(u.machine, "x86_64");
        strcpy(u.domainname, "(none)");
        return gput(a[0], &u, sizeof u);
    }
    case SYS_getpid:
    case SYS_gettid:
        return LX_PID;
    case SYS_getppid:
        return 0;
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
        return LX_UID;
    case SYS_prctl:
        if (a[0] == PR_SET_NAME || a[0] == PR_GET_NAME) {
            static char comm[16] = "guest";
            char *p = gptr(a[1], 16, a[0] == PR_SET_NAME ? LX_R : LX_W);
            if (!p)
                return -EFAULT;
            if (a[0] == PR_SET_NAME) {
                memcpy(comm, p, 15);
                comm[15] = '\0';
            } else {
                memcpy(p, comm, 16);
            }
            return 0;
        }
        return refuse(r->nr, -EINVAL);
    case SYS_setuid:
    case SYS_setgid:
        return a[0] == LX_UID ? 0 : refuse(r->nr, -EPERM); /* its own ids only */
    case SYS_prlimit64:
        if (a[0] != 0 && a[0] != LX_PID)
            return refuse(r->nr, -EPERM);
        return do_rlimit(a[1], a[2], a[3]);
    case SYS_getrlimit:
        return do_rlimit(a[0], 0, a[1]);
    case SYS_sched_yield:
        return 0;
    case SYS_sched_getaffinity: {
        if (a[1] < 8 || (a[1] & 7))
            return -EINVAL;
        uint64_t m = 1;
        return gput(a[2], &m, 8) ? -EFAULT : 8;
    }
    case SYS_futex: {
        int op = (int)(a[1] & FUTEX_CMD_MASK);
        if (op == FUTEX_WAKE || op == FUTEX_WAKE_BITSET)
            return 0;
        if (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET) {
            uint32_t w;
            if ((a[0] & 3) || gget(a[0], &w, 4))
                return -EFAULT;
            if (w != (uint32_t)a[2])
                return -EAGAIN;
            if (a[3]) {
                struct timespec t;
                if (gget(a[3], &t, sizeof t))
                    return -EFAULT;
                if (op == FUTEX_WAIT) {
                    sleep_for(&t);
                    return -ETIMEDOUT;
                }
                return -ETIMEDOUT; /* absolute wait with one thread: nobody can wake it */
            }
            lx_exit(FUNK_VM_EXIT_FAULT, 0,
                    "linux: the single-threaded guest waits forever on a futex");
            return 0;
        }
        return refuse(r->nr, -ENOSYS);
    }
    case SYS_clock_gettime:
        return do_clock_gettime(a[0], a[1]);
    case SYS_clock_getres: {
        if (a[1]) {
            struct timespec ts = {0, 1};
            if (gput(a[1], &ts, sizeof ts))
                return -EFAULT;
        }
        return 0;
    }
    case SYS_gettimeofday: {
        if (a[0]) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            struct timeval tv = {ts.tv_sec, ts.tv_nsec / 1000};
            if (gput(a[0], &tv, sizeof tv))
                return -EFAULT;
        }
        return 0;
    }
    case SYS_time: {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (a[0]) {
            int64_t t = ts.tv_sec;
            if (gput(a[0], &t, 8))
                return -EFAULT;
        }
        return ts.tv_sec;
    }
    case SYS_nanosleep: {
        struct timespec t;
        if (gget(a[0], &t, sizeof t))
            return -EFAULT;
        return sleep_for(&t);
    }
    case SYS_clock_nanosleep:
        return do_clock_nanosleep(a[0], a[1], a[2], a[3]);
    case SYS_getrandom:
        return do_getrandom(a[0], a[1]);
    case SYS_readlink:
    case SYS_readlinkat: {
        int at = r->nr == SYS_readlinkat;
        if ((!at || (int)a[0] == AT_FDCWD) && path_is(a[at], "/proc/self/exe"))
            return copy_str(a[at + 1], a[at + 2], exe_name);
        int64_t fd_only;
        int64_t e = lookup(at ? (int64_t)(int)a[0] : AT_FDCWD, a[at], 0, &fd_only);
        return e >= 0 ? -EINVAL : e; /* a bundle has no links */
    }
    case SYS_getcwd: {
        if (a[1] < 2)
            return -ERANGE;
        char *p = gptr(a[0], 2, LX_W);
        if (!p)
            return -EFAULT;
        memcpy(p, "/", 2);
        return 2;
    }
    case SYS_kill:
    case SYS_tkill:
    case SYS_tgkill: {
        uint64_t pid = a[0], sig = r->nr == SYS_tgkill ? a[2] : a[1];
        if ((pid == LX_PID || (r->nr == SYS_kill && pid == 0)) && sig >= 1 && sig <= 64) {
            /* A signal to itself (abort, raise): no delivery, so its default action: the end. */
            char why[80];
            snprintf(why, sizeof why, "guest killed itself with signal %llu",
                     (unsigned long long)sig);
            lx_exit(FUNK_VM_EXIT_HALT, 128 + (int)sig, why);
            return 0;
        }
        if (pid == LX_PID && sig == 0)
            return 0;
        return refuse(r->nr, -EPERM);
    }
    case FUNK_LINUX_HC_NR: {
        /* A funk hypercall (include/funk/abi/funk.h), only for a program with the funk note. */
        if (!lx_funk || a[0] > UINT32_MAX)
            return refuse(r->nr, -ENOSYS);
        if (!lx_fn_mode && (a[0] == FUNK_HC_FN_RECV || a[0] == FUNK_HC_FN_SEND)) {
            /* from now on a funk function: what it wrote to stdout so far is log too */
            lx_fn_mode = true;
            if (out_len) {
                lx_console((const char *)out_buf, (size_t)out_len);
                out_len = 0;
            }
        }
        int64_t e = hc_args_ok((unsigned)a[0], a[1]);
        if (e)
            return e;
        if (lx_host)
            lx_host->hypercall((unsigned)a[0], a[1]);
        else
            vm_process_child_hypercall((unsigned)a[0], a[1]);
        return 0;
    }
    case SYS_mincore:
    default:
        return refuse(r->nr, -ENOSYS);
    }
}
