/* SPDX-License-Identifier: Apache-2.0 */
/* The exec allowlist: a LIBRARY resource may be loaded only when its bytes are those of a library
 * the operator installed in the exec directory; guest- or client-supplied code never runs. */
#include "internal.h"
#include "sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
        char self[PATH_MAX];
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

void accel_exec_forget(void)
{
    pthread_mutex_lock(&known_lock);
    free(known);
    known = NULL;
    n_known = cap_known = 0;
    pthread_mutex_unlock(&known_lock);
}
