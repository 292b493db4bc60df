/* SPDX-License-Identifier: Apache-2.0 */
/* The exec allowlist: a LIBRARY resource may be loaded only when its bytes are those of a library
 * the operator installed in the exec directory, and only the symbols that library defines may be
 * called; guest- or client-supplied code never runs. */
#include "internal.h"
#include "sha256.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUNK_PLUGIN_INSTALL_DIR
#define FUNK_PLUGIN_INSTALL_DIR "/usr/local/lib/funk"
#endif

#define EXEC_MAX_ENTRIES 1024        /* files looked at per scan */
#define EXEC_MAX_FILE (256ull << 20) /* a bigger file is not a library we load */

/* Hashes of files already read, by identity, so a lookup re-reads only what changed. */
struct known {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
};

static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static struct known *known;
static size_t n_known, cap_known;

int accel_exec_dir(char *buf, size_t len)
{
    const char *env = getenv("FUNK_ACCEL_EXEC_DIR");
    int n;
    if (env && *env) {
        n = snprintf(buf, len, "%s", env);
    } else {
        char self[PATH_MAX - sizeof("/exec")]; /* so "<self>/exec" fits a PATH_MAX buffer */
        if (accel_self_plugin_dir(self, sizeof(self)) == 0)
            n = snprintf(buf, len, "%s/exec", self);
        else
            n = snprintf(buf, len, "%s/exec", FUNK_PLUGIN_INSTALL_DIR);
    }
    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

static int hash_fd(int fd, size_t size, uint8_t out[FUNK_ACCEL_HASH_SIZE])
{
    accel_sha256 c;
    accel_sha256_init(&c);
    uint8_t buf[65536];
    size_t got = 0;
    off_t off = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        accel_sha256_update(&c, buf, (size_t)n);
        got += (size_t)n;
        off += n;
    }
    accel_sha256_final(&c, out);
    return 0;
}

/* The hash of an open file, from the identity cache or read now. known_lock held. */
static int file_hash(int fd, const struct stat *st, uint8_t out[FUNK_ACCEL_HASH_SIZE])
{
    for (size_t i = 0; i < n_known; i++) {
        struct known *k = &known[i];
        if (k->dev == st->st_dev && k->ino == st->st_ino && k->size == st->st_size &&
            k->mtime.tv_sec == st->st_mtim.tv_sec && k->mtime.tv_nsec == st->st_mtim.tv_nsec) {
            memcpy(out, k->hash, FUNK_ACCEL_HASH_SIZE);
            return 0;
        }
    }
    int rc = hash_fd(fd, (size_t)st->st_size, out);
    if (rc < 0)
        return rc;
    if (n_known == cap_known) {
        size_t cap = cap_known ? cap_known * 2 : 16;
        struct known *nk = cap <= EXEC_MAX_ENTRIES * 4 ? realloc(known, cap * sizeof(*nk)) : NULL;
        if (nk == NULL) { /* forget everything rather than grow without bound */
            n_known = 0;
            return 0;
        }
        known = nk;
        cap_known = cap;
    }
    known[n_known++] = (struct known){st->st_dev, st->st_ino, st->st_size, st->st_mtim, {0}};
    memcpy(known[n_known - 1].hash, out, FUNK_ACCEL_HASH_SIZE);
    return 0;
}

/* An operator's file: regular, not writable by group or others, owned by root or by us. */
static bool trusted(const struct stat *st)
{
    return S_ISREG(st->st_mode) && !(st->st_mode & (S_IWGRP | S_IWOTH)) &&
           (st->st_uid == 0 || st->st_uid == geteuid()) && st->st_size > 0 &&
           (unsigned long long)st->st_size <= EXEC_MAX_FILE;
}

void accel_exec_refused(const uint8_t hash[FUNK_ACCEL_HASH_SIZE], const char *what)
{
    char dir[PATH_MAX] = "?";
    accel_exec_dir(dir, sizeof(dir));
    accel_err("exec refused: library resource sha256 %02x%02x%02x%02x... (%s) is not an "
              "operator-installed library in %s (FUNK_ACCEL_EXEC_DIR): code from a guest or "
              "client is never loaded",
              hash[0], hash[1], hash[2], hash[3], what, dir);
}

int accel_exec_open(const uint8_t hash[FUNK_ACCEL_HASH_SIZE], int *fd_out)
{
    char dir[PATH_MAX];
    int rc = accel_exec_dir(dir, sizeof(dir));
    if (rc < 0)
        return -EPERM;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        accel_debug("exec directory %s: %s", dir, strerror(errno));
        return -EPERM;
    }
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return -EPERM;
    }
    rc = -EPERM;
    unsigned seen = 0;
    pthread_mutex_lock(&known_lock);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && seen < EXEC_MAX_ENTRIES) {
        if (e->d_name[0] == '.')
            continue;
        seen++;
        /* No symlinks: what the operator put in the directory is what is allowed. */
        int fd = openat(dfd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat st;
        uint8_t h[FUNK_ACCEL_HASH_SIZE];
        if (fstat(fd, &st) < 0) {
            close(fd);
            continue;
        }
        if (!trusted(&st)) {
            if (S_ISREG(st.st_mode) && st.st_size > 0)
                accel_warn("exec directory %s: %s is writable by others or not ours: ignored", dir,
                           e->d_name);
            close(fd);
            continue;
        }
        if (file_hash(fd, &st, h) == 0 && !memcmp(h, hash, FUNK_ACCEL_HASH_SIZE)) {
            /* Verify the bytes of this very fd: it is what the caller will load. */
            if (hash_fd(fd, (size_t)st.st_size, h) == 0 && !memcmp(h, hash, FUNK_ACCEL_HASH_SIZE)) {
                accel_debug("exec: library resource is %s/%s", dir, e->d_name);
                *fd_out = fd;
                rc = 0;
                break;
            }
            n_known = 0; /* changed in place under the same identity: forget every hash */
        }
        close(fd);
    }
    pthread_mutex_unlock(&known_lock);
    closedir(d);
    return rc;
}

/*
 * Libraries are dlopened as /proc/self/fd/N of the verified file, and glibc keeps every name an
 * object was opened by (also when it matched an already loaded file by identity) and takes such
 * a name to be that object again. So each fd stays open as long as the object is loaded by us:
 * were N closed and reused for another library, dlopen("/proc/self/fd/N") would hand back the
 * first one. Objects by link map, with the fds of their names (one per open that holds them).
 */
struct opened {
    struct link_map *lm;
    int *fds;    /* one per open since it was loaded: each is a name glibc keeps for it */
    size_t nfds;
    size_t refs; /* opens not closed yet; the fds go when it reaches 0 */
};
/* Recursive: dlopen and dlclose run constructors and destructors under it, and a library's
 * destructor may close what it opened (the vAccel adapter does). */
static pthread_mutex_t opened_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct opened *opened;
static size_t n_opened, cap_opened;

static struct opened *opened_find(const struct link_map *lm)
{
    for (size_t i = 0; i < n_opened; i++)
        if (opened[i].lm == lm)
            return &opened[i];
    return NULL;
}

/* Records fd as a name of lm. -ENOMEM. opened_lock held. */
static int opened_add(struct link_map *lm, int fd)
{
    struct opened *o = opened_find(lm);
    if (o == NULL) {
        if (n_opened == cap_opened) {
            size_t cap = cap_opened ? cap_opened * 2 : 8;
            struct opened *n = realloc(opened, cap * sizeof(*n));
            if (n == NULL)
                return -ENOMEM;
            opened = n;
            cap_opened = cap;
        }
        o = &opened[n_opened++];
        *o = (struct opened){lm, NULL, 0, 0};
    }
    int *fds = realloc(o->fds, (o->nfds + 1) * sizeof(*fds));
    if (fds == NULL) {
        if (o->refs == 0)
            *o = opened[--n_opened];
        return -ENOMEM;
    }
    o->fds = fds;
    o->fds[o->nfds++] = fd;
    o->refs++;
    return 0;
}

FUNK_API int funk_accel_library_open(const uint8_t hash[FUNK_ACCEL_HASH_SIZE], void **dl)
{
    if (hash == NULL || dl == NULL)
        return -EINVAL;
    *dl = NULL;
    int fd;
    int rc = accel_exec_open(hash, &fd);
    if (rc < 0) {
        accel_exec_refused(hash, "by hash");
        return rc;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd); /* the very file that was hashed */
    pthread_mutex_lock(&opened_lock);
    struct link_map *lm = NULL;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || lm == NULL) {
        accel_err("exec: installed library cannot be loaded: %s", dlerror());
        rc = -EBADMSG;
    } else {
        rc = opened_add(lm, fd); /* fd is a name of the object now: kept until its last close */
    }
    if (rc == 0) {
        *dl = h;
        fd = -1;
    } else if (h) {
        dlclose(h);
    }
    pthread_mutex_unlock(&opened_lock);
    if (fd >= 0)
        close(fd);
    return rc;
}

FUNK_API void funk_accel_library_close(void *dl)
{
    struct link_map *lm = NULL;
    if (dl == NULL || dlinfo(dl, RTLD_DI_LINKMAP, &lm) != 0)
        return;
    pthread_mutex_lock(&opened_lock);
    struct opened *o = opened_find(lm), last = {0};
    if (o && --o->refs == 0) { /* settled before dlclose: destructors may change the table */
        last = *o;
        *o = opened[--n_opened];
    }
    dlclose(dl); /* before the fds: their numbers must not name a new library while it lives */
    pthread_mutex_unlock(&opened_lock);
    for (size_t i = 0; i < last.nfds; i++)
        close(last.fds[i]);
    free(last.fds);
}

FUNK_API void *funk_accel_library_lookup(void *dl, const char *name)
{
    if (dl == NULL || name == NULL)
        return NULL;
    void *sym = dlsym(dl, name);
    struct link_map *lib = NULL, *owner = NULL;
    Dl_info di;
    if (sym == NULL || dlinfo(dl, RTLD_DI_LINKMAP, &lib) != 0 || lib == NULL ||
        dladdr1(sym, &di, (void **)&owner, RTLD_DL_LINKMAP) == 0 || owner != lib)
        return NULL;
    return sym;
}

void accel_exec_forget(void)
{
    pthread_mutex_lock(&known_lock);
    free(known);
    known = NULL;
    n_known = cap_known = 0;
    pthread_mutex_unlock(&known_lock);
}
