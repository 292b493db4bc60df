/* SPDX-License-Identifier: Apache-2.0 */
/* libvaccel-exec.so: a funk exec library that calls a vAccel-ABI function (struct vaccel_arg
 * arrays) of a library in the same operator exec directory, found by the SHA-256 of its bytes. */
#include "internal.h"
#include "sha256.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (256ull << 20) /* as funk's exec allowlist: bigger is not a library we load */
#define MAX_ARGS 4096
#define MAX_FILES 1024 /* directory entries looked at per scan, as funk's allowlist */

typedef int (*vaccel_exec_fn)(struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write,
                              size_t nr_write);

struct loaded {
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    void *dl;
    char *last_symbol; /* the last symbol looked up and what it resolved to: dlsym is costly */
    void *last_sym;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct loaded *loaded;
static size_t n_loaded;

/* The operator's exec directory, as funk's runtime finds it: FUNK_ACCEL_EXEC_DIR, else
 * <dir of libfunk-accel.so>/funk/exec. */
static int exec_dir(char *out, size_t cap)
{
    const char *env = getenv("FUNK_ACCEL_EXEC_DIR");
    int w;
    if (env && *env) {
        w = snprintf(out, cap, "%s", env);
    } else {
        Dl_info di;
        if (dladdr((void *)funk_accel_version, &di) == 0 || di.dli_fname == NULL)
            return -ENOENT;
        char lib[PATH_MAX];
        w = snprintf(lib, sizeof(lib), "%s", di.dli_fname);
        if (w < 0 || (size_t)w >= sizeof(lib))
            return -ENAMETOOLONG;
        char *slash = strrchr(lib, '/');
        if (slash == NULL)
            return -ENOENT;
        *slash = '\0';
        w = snprintf(out, cap, "%s/funk/exec", lib);
    }
    return (w < 0 || (size_t)w >= cap) ? -ENAMETOOLONG : 0;
}

static int hash_fd(int fd, size_t size, uint8_t out[FUNK_ACCEL_HASH_SIZE])
{
    enum { CHUNK = 65536 };
    uint8_t *buf = malloc(CHUNK);
    if (buf == NULL)
        return -ENOMEM;
    accel_sha256 c;
    accel_sha256_init(&c);
    size_t got = 0;
    int rc = 0;
    while (got < size) {
        ssize_t r = pread(fd, buf, CHUNK, (off_t)got);
        if (r <= 0) {
            rc = -EIO;
            break;
        }
        accel_sha256_update(&c, buf, (size_t)r);
        got += (size_t)r;
    }
    free(buf);
    if (rc == 0)
        accel_sha256_final(&c, out);
    return rc;
}

/* Hashes of exec-directory files already read, by identity: a caller sending hashes that match
 * nothing costs a stat per file, not a re-read of every library. Caller holds lock. */
struct known {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
};
static struct known *known;
static size_t n_known;

static int hash_known_locked(int fd, const struct stat *st, uint8_t out[FUNK_ACCEL_HASH_SIZE])
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
    if (rc == 0 && n_known < MAX_FILES * 4) { /* bounded: files replaced often just re-hash */
        struct known *n = realloc(known, (n_known + 1) * sizeof(*n));
        if (n) {
            known = n;
            known[n_known] = (struct known){st->st_dev, st->st_ino, st->st_size, st->st_mtim, {0}};
            memcpy(known[n_known++].hash, out, FUNK_ACCEL_HASH_SIZE);
        }
    }
    return rc;
}

EXPORT int vaccel_funk_exec(const funk_accel_arg *in, size_t n_in, funk_accel_arg *out,
                            size_t n_out);

/* dlsym searches the library's dependencies too (libc, libvaccel, this adapter): a caller could
 * name `system` or vaccel_funk_exec itself and have it called with vAccel's argument layout. Only
 * a symbol the library itself defines is callable. */
static bool defined_by(void *dl, void *sym)
{
    struct link_map *lm = NULL;
    Dl_info di;
    if (dlinfo(dl, RTLD_DI_LINKMAP, &lm) != 0 || lm == NULL || dladdr(sym, &di) == 0)
        return false;
    return (uintptr_t)di.dli_fbase == (uintptr_t)lm->l_addr;
}

/* Finds and dlopens the library of the exec directory whose bytes hash to `want`. Only regular
 * files (no symlinks), owned by root or us, not writable by group/others: the rules funk's exec
 * allowlist applies. Caller holds lock. */
static struct loaded *find_locked(const uint8_t want[FUNK_ACCEL_HASH_SIZE])
{
    for (size_t i = 0; i < n_loaded; i++)
        if (memcmp(loaded[i].hash, want, FUNK_ACCEL_HASH_SIZE) == 0)
            return &loaded[i];
    char dir[PATH_MAX];
    if (exec_dir(dir, sizeof(dir)) < 0)
        return NULL;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return NULL;
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return NULL;
    }
    void *dl = NULL;
    struct dirent *e;
    size_t seen = 0;
    while (dl == NULL && seen++ < MAX_FILES && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat st;
        uint8_t h[FUNK_ACCEL_HASH_SIZE];
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
            (unsigned long long)st.st_size <= MAX_FILE &&
            (st.st_uid == 0 || st.st_uid == geteuid()) && !(st.st_mode & (S_IWGRP | S_IWOTH)) &&
            hash_known_locked(fd, &st, h) == 0 && memcmp(h, want, sizeof(h)) == 0) {
            char p[64];
            snprintf(p, sizeof(p), "/proc/self/fd/%d", fd); /* the very file we hashed */
            dl = dlopen(p, RTLD_NOW | RTLD_LOCAL);
            if (dl == NULL)
                funk_accel_log(FUNK_LOG_ERROR, "vaccel-exec", "%s/%s: %s", dir, e->d_name,
                               dlerror());
        }
        close(fd);
    }
    closedir(d);
    if (dl == NULL) {
        funk_accel_log(FUNK_LOG_ERROR, "vaccel-exec",
                       "exec refused: no library in %s has the requested bytes", dir);
        return NULL;
    }
    if (defined_by(dl, (void *)vaccel_funk_exec)) { /* ourselves: calls would recurse/confuse */
        funk_accel_log(FUNK_LOG_ERROR, "vaccel-exec", "exec refused: the adapter itself");
        dlclose(dl);
        return NULL;
    }
    struct loaded *n = realloc(loaded, (n_loaded + 1) * sizeof(*n));
    if (n == NULL) {
        dlclose(dl);
        return NULL;
    }
    loaded = n;
    loaded[n_loaded] = (struct loaded){.dl = dl};
    memcpy(loaded[n_loaded].hash, want, FUNK_ACCEL_HASH_SIZE);
    return &loaded[n_loaded++];
}

/* dlsym, remembering the last answer per library. Caller holds lock. */
static void *symbol_locked(struct loaded *l, const char *name)
{
    if (l->last_symbol && strcmp(l->last_symbol, name) == 0)
        return l->last_sym;
    void *sym = dlsym(l->dl, name);
    if (sym == NULL)
        return NULL;
    if (!defined_by(l->dl, sym)) {
        funk_accel_log(FUNK_LOG_ERROR, "vaccel-exec",
                       "exec refused: '%s' is not defined by the library itself", name);
        return NULL;
    }
    char *copy = strdup(name);
    if (copy) {
        free(l->last_symbol);
        l->last_symbol = copy;
        l->last_sym = sym;
    }
    return sym;
}

/* funk's exec plugin dlcloses this library when the adapter resource dies: drop what we loaded */
__attribute__((destructor)) static void adapter_fini(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_loaded; i++) {
        free(loaded[i].last_symbol);
        dlclose(loaded[i].dl);
    }
    free(loaded);
    loaded = NULL;
    n_loaded = 0;
    free(known);
    known = NULL;
    n_known = 0;
    pthread_mutex_unlock(&lock);
}

EXPORT int vaccel_funk_exec(const funk_accel_arg *in, size_t n_in, funk_accel_arg *out,
                            size_t n_out)
{
    /* everything here may come from a guest or an rpc client: check before use */
    if (n_in < VACCEL_FUNK_EXEC_FIXED_IN || in[0].size != FUNK_ACCEL_HASH_SIZE ||
        in[1].type != FUNK_ACCEL_ARG_STRING || in[1].size == 0 ||
        memchr(in[1].data, 0, in[1].size) == NULL || in[2].size < 8 || in[2].size % 8)
        return -EINVAL;
    uint32_t nr[2];
    memcpy(nr, in[2].data, sizeof(nr));
    if (nr[0] > MAX_ARGS || nr[1] > MAX_ARGS || nr[0] != n_in - VACCEL_FUNK_EXEC_FIXED_IN ||
        nr[1] != n_out || in[2].size != 8 + 8 * ((size_t)nr[0] + nr[1]))
        return -EINVAL;
    const uint8_t *hdr = (const uint8_t *)in[2].data + 8;
    pthread_mutex_lock(&lock);
    struct loaded *l = find_locked(in[0].data);
    void *sym = l ? symbol_locked(l, in[1].data) : NULL;
    pthread_mutex_unlock(&lock);
    if (l == NULL)
        return -EPERM;
    if (sym == NULL)
        return -ENOENT;
    vaccel_exec_fn fn;
    *(void **)&fn = sym;
    size_t total = (size_t)nr[0] + nr[1];
    struct vaccel_arg stack[16];
    struct vaccel_arg *a = total <= 16 ? stack : calloc(total ? total : 1, sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < total; i++) {
        uint32_t tc[2];
        memcpy(tc, hdr + 8 * i, sizeof(tc));
        const funk_accel_arg *f = i < nr[0] ? &in[VACCEL_FUNK_EXEC_FIXED_IN + i] : &out[i - nr[0]];
        if (tc[0] >= VACCEL_ARG_MAX) {
            if (a != stack)
                free(a);
            return -EINVAL;
        }
        a[i] = (struct vaccel_arg){f->data, f->size, (vaccel_arg_type_t)tc[0], tc[1], false};
    }
    int rc = fn(a, nr[0], a + nr[0], nr[1]);
    for (size_t i = 0; rc == 0 && i < nr[1]; i++)
        out[i].used = out[i].size;
    if (a != stack)
        free(a);
    return rc > 0 ? -rc : rc; /* vAccel codes are positive; funk carries errors negative */
}
