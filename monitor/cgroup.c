/* SPDX-License-Identifier: Apache-2.0 */
/* Per-guest control groups (v2, or v1's memory/cpu/pids): create, join, read, kill, remove. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

#define CG_ROOT "/sys/fs/cgroup"

/* The hierarchies guest cgroups are made in, found once per process. */
struct cg_base {
    bool v2;
    int n;
    char ctl[VM_CGROUP_MAX][16];    /* v1: controller of each hierarchy */
    char dir[VM_CGROUP_MAX][PATH_MAX]; /* <mount><own cgroup>/funk-<pid> */
};

static pthread_once_t base_once = PTHREAD_ONCE_INIT;
static struct cg_base base;
static int base_err; /* why there is no base (-errno), 0 when there is one */
static pid_t base_pid;
static unsigned long next_id;
static pthread_mutex_t id_mu = PTHREAD_MUTEX_INITIALIZER;

enum vm_cgroup_mode { VM_CGROUP_AUTO = 0, VM_CGROUP_OFF, VM_CGROUP_REQUIRED };

/* FUNK_CGROUP: auto (default), off or required. */
static enum vm_cgroup_mode vm_cgroup_mode(void)
{
    const char *e = getenv("FUNK_CGROUP");
    if (!e || !*e || strcmp(e, "auto") == 0)
        return VM_CGROUP_AUTO;
    if (strcmp(e, "off") == 0)
        return VM_CGROUP_OFF;
    if (strcmp(e, "required") == 0)
        return VM_CGROUP_REQUIRED;
    return VM_CGROUP_AUTO; /* an unknown word: the safe default, never silently "off" */
}

static int write_file_at(int dirfd, const char *name, const char *val)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(val);
    ssize_t w = write(fd, val, len);
    int e = w == (ssize_t)len ? 0 : (w < 0 ? -errno : -EIO);
    close(fd);
    return e;
}

static int read_file_at(int dirfd, const char *name, char *buf, size_t len)
{
    if (len == 0)
        return -EINVAL;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t r = read(fd, buf, len - 1);
    int e = r < 0 ? -errno : 0;
    close(fd);
    buf[r < 0 ? 0 : r] = '\0';
    return e;
}

/* Our own cgroup path in a hierarchy, from /proc/self/cgroup ("ID:CONTROLLERS:PATH" lines;
 * v2's line is "0::PATH"). want: a v1 controller name, or NULL for the v2 line. */
static int own_path(const char *want, char *out, size_t outlen)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -errno;
    char line[PATH_MAX + 128];
    int rc = -ENOENT;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctls = c1 + 1, *path = c2 + 1;
        bool match = false;
        if (!want) {
            match = *ctls == '\0';
        } else {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", ctls);
            for (char *sp, *t = strtok_r(tmp, ",", &sp); t; t = strtok_r(NULL, ",", &sp))
                if (strcmp(t, want) == 0)
                    match = true;
        }
        if (match) {
            if (strstr(path, "/..") || path[0] != '/')
                break; /* never build a path from something odd */
            rc = snprintf(out, outlen, "%s", strcmp(path, "/") == 0 ? "" : path) < (int)outlen
                     ? 0
                     : -ENAMETOOLONG;
            break;
        }
    }
    fclose(f);
    return rc;
}

static bool is_fs(const char *path, long magic)
{
    struct statfs sf;
    return statfs(path, &sf) == 0 && (long)sf.f_type == magic;
}

/* mkdir that accepts an existing directory. */
static int mkdir_ok(const char *p)
{
    return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

/* Removes what supervisors that are gone left below parent: funk-<pid> of a pid that no
 * longer exists, with its (empty) guest cgroups. One that still holds a process stays. */
static void sweep_stale(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, "funk-", 5) != 0)
            continue;
        long pid = strtol(e->d_name + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/%s", parent, e->d_name) >= (int)sizeof dir)
            continue;
        DIR *g = opendir(dir);
        struct dirent *ge;
        while (g && (ge = readdir(g))) {
            char sub[PATH_MAX];
            if (ge->d_name[0] == 'g' &&
                snprintf(sub, sizeof sub, "%s/%s", dir, ge->d_name) < (int)sizeof sub)
                (void)rmdir(sub);
        }
        if (g)
            closedir(g);
        (void)rmdir(dir);
    }
    closedir(d);
}

/* At exit: our own funk-<pid> directories (they fail to go while a guest is in one). */
static void base_remove(void)
{
    if (base_pid != getpid())
        return;
    for (int i = 0; i < base.n; i++)
        (void)rmdir(base.dir[i]);
}

/* v2: the mount whose cgroup.controllers lists memory, cpu and pids. */
static int find_v2(char *mnt, size_t len)
{
    static const char *const cands[] = {CG_ROOT, CG_ROOT "/unified"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (!is_fs(cands[i], CGROUP2_SUPER_MAGIC))
            continue;
        int d = open(cands[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0)
            continue;
        char c[512];
        int rc = read_file_at(d, "cgroup.controllers", c, sizeof c);
        close(d);
        if (rc == 0 && strstr(c, "memory") && strstr(c, "cpu") && strstr(c, "pids")) {
            snprintf(mnt, len, "%s", cands[i]);
            return 0;
        }
    }
    return -ENOENT;
}

/* v2 "no internal processes": controllers can be enabled for children only in a cgroup with
 * no processes of its own (the root excepted). When ours has some (funkd alone in its service's
 * cgroup), the supervisor first moves itself into a leaf "supervisor" beside its guests. */
static int v2_prepare(const char *mnt)
{
    char own[PATH_MAX], dir[PATH_MAX];
    int rc = own_path(NULL, own, sizeof own);
    if (rc)
        return rc;
    if (snprintf(dir, sizeof dir, "%s%s", mnt, own) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return -errno;
    rc = write_file_at(d, "cgroup.subtree_control", "+memory +cpu +pids");
    if (rc == -EBUSY && *own) {
        /* Move ourselves (all threads: cgroup.procs) into a leaf, then enable. */
        if (mkdirat(d, "supervisor", 0755) != 0 && errno != EEXIST)
            rc = -errno;
        else {
            int leaf = openat(d, "supervisor", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            char pid[32];
            snprintf(pid, sizeof pid, "%d", (int)getpid());
            rc = leaf < 0 ? -errno : write_file_at(leaf, "cgroup.procs", pid);
            if (leaf >= 0)
                close(leaf);
            if (rc == 0)
                rc = write_file_at(d, "cgroup.subtree_control", "+memory +cpu +pids");
        }
    }
    close(d);
    if (rc)
        return rc;
    sweep_stale(dir);
    base.v2 = true;
    base.n = 1;
    if (snprintf(base.dir[0], sizeof base.dir[0], "%s/funk-%d", dir, (int)getpid()) >=
        (int)sizeof base.dir[0])
        return -ENAMETOOLONG;
    if ((rc = mkdir_ok(base.dir[0])) != 0)
        return rc;
    d = open(base.dir[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return -errno;
    rc = write_file_at(d, "cgroup.subtree_control", "+memory +cpu +pids");
    close(d);
    return rc;
}

static int v1_prepare(void)
{
    static const char *const ctls[VM_CGROUP_MAX] = {"memory", "cpu", "pids"};
    base.v2 = false;
    base.n = 0;
    for (int i = 0; i < VM_CGROUP_MAX; i++) {
        char mnt[PATH_MAX], own[PATH_MAX];
        snprintf(mnt, sizeof mnt, CG_ROOT "/%s", ctls[i]);
        if (!is_fs(mnt, CGROUP_SUPER_MAGIC))
            continue; /* not mounted (or mounted co-located under another name) */
        if (own_path(ctls[i], own, sizeof own) != 0)
            continue;
        int k = base.n;
        char parent[PATH_MAX];
        if (snprintf(parent, sizeof parent, "%s%s", mnt, own) < (int)sizeof parent)
            sweep_stale(parent);
        if (snprintf(base.dir[k], sizeof base.dir[k], "%s%s/funk-%d", mnt, own, (int)getpid()) >=
            (int)sizeof base.dir[k])
            return -ENAMETOOLONG;
        int rc = mkdir_ok(base.dir[k]);
        if (rc)
            return rc;
        snprintf(base.ctl[k], sizeof base.ctl[k], "%s", ctls[i]);
        base.n++;
    }
    /* Without the memory hierarchy the main limit is missing: no cgroups rather than some. */
    return base.n > 0 && strcmp(base.ctl[0], "memory") == 0 ? 0 : -ENOENT;
}

static void base_init(void)
{
    base_pid = getpid();
    char mnt[PATH_MAX];
    base_err = find_v2(mnt, sizeof mnt) == 0 ? v2_prepare(mnt) : v1_prepare();
    if (base_err) {
        for (int i = 0; i < base.n; i++)
            (void)rmdir(base.dir[i]);
        memset(&base, 0, sizeof base);
        return;
    }
    static int registered;
    if (!registered++)
        atexit(base_remove);
}

/* A fork of the supervisor (never a guest: those come from the launcher) needs its own base. */
static void base_get(void)
{
    pthread_once(&base_once, base_init);
    if (base_pid != getpid()) {
        pthread_mutex_lock(&id_mu);
        if (base_pid != getpid())
            base_init();
        pthread_mutex_unlock(&id_mu);
    }
}

static void cg_close(struct vm_cgroup *cg)
{
    for (int i = 0; i < cg->n; i++) {
        if (cg->dirfd[i] >= 0)
            close(cg->dirfd[i]);
        free(cg->path[i]);
        cg->dirfd[i] = -1;
        cg->path[i] = NULL;
    }
    cg->n = 0;
}

static int set_limits(struct vm_cgroup *cg, const struct funk_vm_limits *lim)
{
    char v[64];
    int rc = 0;
    for (int i = 0; i < cg->n && rc == 0; i++) {
        int d = cg->dirfd[i];
        const char *ctl = cg->v2 ? NULL : base.ctl[i];
        bool all = cg->v2;
        if (lim->memory_bytes && (all || strcmp(ctl, "memory") == 0)) {
            snprintf(v, sizeof v, "%" PRIu64, lim->memory_bytes);
            if (cg->v2) {
                rc = write_file_at(d, "memory.max", v);
                if (rc == 0)
                    (void)write_file_at(d, "memory.swap.max", "0"); /* absent without swap */
            } else {
                rc = write_file_at(d, "memory.limit_in_bytes", v);
                /* No swapping around the limit: memsw where the kernel accounts swap. */
                if (rc == 0)
                    (void)write_file_at(d, "memory.memsw.limit_in_bytes", v);
            }
        }
        if (rc == 0 && lim->cpu_millicores && (all || strcmp(ctl, "cpu") == 0)) {
            /* A 100 ms period; quota in µs (at least the kernel's 1 ms minimum). */
            uint64_t quota = (uint64_t)lim->cpu_millicores * 100;
            if (quota < 1000)
                quota = 1000;
            if (cg->v2) {
                snprintf(v, sizeof v, "%" PRIu64 " 100000", quota);
                rc = write_file_at(d, "cpu.max", v);
            } else {
                rc = write_file_at(d, "cpu.cfs_period_us", "100000");
                snprintf(v, sizeof v, "%" PRIu64, quota);
                if (rc == 0)
                    rc = write_file_at(d, "cpu.cfs_quota_us", v);
            }
        }
        if (rc == 0 && lim->pids && (all || strcmp(ctl, "pids") == 0)) {
            snprintf(v, sizeof v, "%u", lim->pids);
            rc = write_file_at(d, "pids.max", v);
        }
    }
    return rc;
}

int vm_cgroup_create(const struct funk_vm_limits *lim, struct vm_cgroup *cg)
{
    memset(cg, 0, sizeof *cg);
    for (int i = 0; i < VM_CGROUP_MAX; i++)
        cg->dirfd[i] = -1;
    enum vm_cgroup_mode mode = vm_cgroup_mode();
    if (mode == VM_CGROUP_OFF)
        return 0;
    base_get();
    if (base_err) {
        static int logged;
        if (mode == VM_CGROUP_REQUIRED)
            return base_err;
        if (!__atomic_exchange_n(&logged, 1, __ATOMIC_RELAXED))
            fprintf(stderr,
                    "funk-vm: warning: no per-guest cgroups here (%s); guests get rlimits only "
                    "(FUNK_CGROUP=off silences this, =required makes it an error)\n",
                    strerror(-base_err));
        return 0;
    }
    pthread_mutex_lock(&id_mu);
    unsigned long id = ++next_id;
    pthread_mutex_unlock(&id_mu);
    int rc = 0;
    cg->v2 = base.v2;
    for (int i = 0; i < base.n && rc == 0; i++) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/g%lu", base.dir[i], id) >= (int)sizeof p) {
            rc = -ENAMETOOLONG;
            break;
        }
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        cg->path[i] = strdup(p);
        cg->dirfd[i] = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cg->n = i + 1;
        if (!cg->path[i] || cg->dirfd[i] < 0)
            rc = cg->path[i] ? -errno : -ENOMEM;
    }
    if (rc == 0)
        rc = set_limits(cg, lim);
    if (rc) {
        vm_cgroup_destroy(cg);
        if (mode != VM_CGROUP_REQUIRED && rc != -EINVAL)
            return 0; /* auto: e.g. a supervisor without the right to create cgroups */
        return rc;
    }
    return 0;
}

int vm_cgroup_join(const int *dirfds, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = write_file_at(dirfds[i], "cgroup.procs", "0");
        if (rc)
            return rc;
    }
    return 0;
}

bool vm_cgroup_oom_killed(const struct vm_cgroup *cg)
{
    char buf[1024];
    for (int i = 0; i < cg->n; i++) {
        if (cg->dirfd[i] < 0)
            continue;
        if (cg->v2) {
            if (read_file_at(cg->dirfd[i], "memory.events", buf, sizeof buf) == 0) {
                const char *k = strstr(buf, "oom_kill ");
                if (k && strtoull(k + 9, NULL, 10) > 0)
                    return true;
            }
        } else if (strcmp(base.ctl[i], "memory") == 0 &&
                   read_file_at(cg->dirfd[i], "memory.oom_control", buf, sizeof buf) == 0) {
            const char *k = strstr(buf, "oom_kill ");
            if (k && strtoull(k + 9, NULL, 10) > 0)
                return true;
        }
    }
    return false;
}

/* SIGKILLs every pid listed; returns how many were listed. */
static int kill_listed(int dirfd)
{
    char buf[8192];
    if (read_file_at(dirfd, "cgroup.procs", buf, sizeof buf) != 0)
        return 0;
    int n = 0;
    for (char *sp, *t = strtok_r(buf, "\n", &sp); t; t = strtok_r(NULL, "\n", &sp)) {
        long pid = strtol(t, NULL, 10);
        if (pid > 1) {
            kill((pid_t)pid, SIGKILL);
            n++;
        }
    }
    return n;
}

void vm_cgroup_destroy(struct vm_cgroup *cg)
{
    if (!cg || cg->n == 0)
        return;
    /* v2 kills everything at once; v1 (and kernels before 5.14) kill what is listed, again
     * until the list is empty (a fork in between lands in the same cgroup). Bounded: 2 s. */
    if (cg->v2 && cg->dirfd[0] >= 0)
        (void)write_file_at(cg->dirfd[0], "cgroup.kill", "1");
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < cg->n; i++) {
        if (!cg->path[i])
            continue;
        for (;;) {
            if (cg->dirfd[i] >= 0)
                kill_listed(cg->dirfd[i]);
            if (rmdir(cg->path[i]) == 0 || errno == ENOENT)
                break;
            if (errno != EBUSY)
                break;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) > 2000000000L)
                break; /* a zombie not yet reaped by its parent keeps it busy: leave it */
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    cg_close(cg);
}
