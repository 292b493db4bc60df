/* SPDX-License-Identifier: Apache-2.0 */
/* funk-runtime: opens a bundle's files inside its rootfs; no path (symlinks, "..") leaves it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime.h"

#define MAX_DEPTH 128 /* directories open at once during a walk */
#define MAX_LINKS 40  /* symlinks followed per lookup, the kernel's own limit */

static int resolve_openat2(int rootfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)flags,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    for (;;) {
        long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        /* EAGAIN: a rename raced the lookup; the kernel asks us to try again. */
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
}

static void close_stack(int *stack, int depth)
{
    for (int i = 1; i < depth; i++) /* stack[0] is the caller's rootfd */
        close(stack[i]);
}

/* The same semantics as openat2(RESOLVE_IN_ROOT) for kernels without it (< 5.6): one component at
 * a time with O_NOFOLLOW from the directory fd reached so far; ".." pops to the previous
 * directory and stops at the root; a symlink's target is read and walked in its place, an
 * absolute one from the root. Never asks the kernel to follow a link or ".." itself. */
int rt_walk_in_root(int rootfd, const char *path, int flags)
{
    char rest[PATH_MAX * 2], name[NAME_MAX + 1], target[PATH_MAX];
    int stack[MAX_DEPTH], depth = 1, links = 0, rc;
    size_t n = strlen(path);
    if (n >= PATH_MAX)
        return -ENAMETOOLONG;
    memcpy(rest, path, n + 1);
    stack[0] = rootfd;
    char *p = rest;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p) { /* the path named a directory we already hold (or the root itself) */
            rc = openat(stack[depth - 1], ".", flags | O_NOFOLLOW | O_CLOEXEC);
            rc = rc < 0 ? -errno : rc;
            goto out;
        }
        char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > NAME_MAX) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        p += len;
        while (*p == '/')
            p++;
        int last = *p == '\0';
        if (strcmp(name, ".") == 0)
            continue; /* at the end: the "directory we hold" case above */
        if (strcmp(name, "..") == 0) {
            if (depth > 1)
                close(stack[--depth]);
            continue;
        }
        int fd = openat(stack[depth - 1], name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            goto out;
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
            rc = -errno;
            close(fd);
            goto out;
        }
        if (S_ISLNK(st.st_mode)) {
            ssize_t tl = readlinkat(fd, "", target, sizeof target);
            close(fd);
            if (tl <= 0 || (size_t)tl >= sizeof target) {
                rc = tl < 0 ? -errno : tl == 0 ? -ENOENT : -ENAMETOOLONG; /* "" names nothing */
                goto out;
            }
            if (++links > MAX_LINKS) {
                rc = -ELOOP;
                goto out;
            }
            /* The rest of the path becomes TARGET/REST. */
            size_t rl = strlen(p);
            if ((size_t)tl + 1 + rl + 1 > sizeof rest) {
                rc = -ENAMETOOLONG;
                goto out;
            }
            memmove(rest + tl + 1, p, rl + 1);
            memcpy(rest, target, (size_t)tl);
            rest[tl] = '/';
            p = rest;
            if (target[0] == '/') {
                close_stack(stack, depth);
                depth = 1;
            }
            continue;
        }
        if (last) {
            if ((flags & O_PATH) == O_PATH) {
                rc = fd;
                goto out;
            }
            /* Opened again with the real flags from the same directory; O_NOFOLLOW and the
             * inode check keep a swap in between from pointing it elsewhere. */
            int real = openat(stack[depth - 1], name, flags | O_NOFOLLOW | O_CLOEXEC);
            struct stat st2;
            rc = real < 0 ? -errno : 0;
            if (real >= 0 &&
                (fstat(real, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)) {
                close(real);
                real = -1;
                rc = -ESTALE;
            }
            close(fd);
            if (real >= 0)
                rc = real;
            goto out;
        }
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            rc = -ENOTDIR;
            goto out;
        }
        if (depth == MAX_DEPTH) {
            close(fd);
            rc = -ENAMETOOLONG;
            goto out;
        }
        stack[depth++] = fd;
    }
out:
    close_stack(stack, depth);
    return rc;
}

int rt_resolve_in_root(int rootfd, const char *path, int flags)
{
    int fd = resolve_openat2(rootfd, path, flags | O_CLOEXEC);
    return fd == -ENOSYS ? rt_walk_in_root(rootfd, path, flags) : fd;
}

int rt_open_in_root(int rootfd, const char *path, int flags)
{
    /* Looked up without opening first: a rootfs device node or fifo must not be opened at all. */
    int pfd = rt_resolve_in_root(rootfd, path, O_PATH);
    if (pfd < 0)
        return pfd;
    struct stat st;
    int rc = fstat(pfd, &st) < 0 ? -errno : 0;
    close(pfd);
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = -EINVAL;
    if (rc)
        return rc;
    int fd = rt_resolve_in_root(rootfd, path, flags | O_NOCTTY);
    if (fd < 0)
        return fd;
    struct stat st2;
    if (fstat(fd, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
        close(fd);
        return -ESTALE; /* the file changed between the two lookups */
    }
    return fd;
}
