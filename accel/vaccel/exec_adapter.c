/* SPDX-License-Identifier: Apache-2.0 */
/* libvaccel-exec.so: a funk exec library that calls a vAccel-ABI function (struct vaccel_arg
 * arrays) of a library in the same operator exec directory, found by the SHA-256 of its bytes. */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 4096

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

EXPORT int vaccel_funk_exec(const funk_accel_arg *in, size_t n_in, funk_accel_arg *out,
                            size_t n_out);

/* The library of the exec directory whose bytes hash to `want`, loaded by funk's runtime under
 * its exec allowlist rules (it logs a refusal). Caller holds lock. */
static struct loaded *find_locked(const uint8_t want[FUNK_ACCEL_HASH_SIZE])
{
    for (size_t i = 0; i < n_loaded; i++)
        if (memcmp(loaded[i].hash, want, FUNK_ACCEL_HASH_SIZE) == 0)
            return &loaded[i];
    void *dl;
    if (funk_accel_library_open(want, &dl) < 0)
        return NULL;
    /* ourselves: calls would recurse/confuse */
    if (funk_accel_library_lookup(dl, VACCEL_FUNK_EXEC_SYMBOL) == (void *)vaccel_funk_exec) {
        funk_accel_log(FUNK_LOG_ERROR, "vaccel-exec", "exec refused: the adapter itself");
        funk_accel_library_close(dl);
        return NULL;
    }
    struct loaded *n = realloc(loaded, (n_loaded + 1) * sizeof(*n));
    if (n == NULL) {
        funk_accel_library_close(dl);
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
    void *sym = funk_accel_library_lookup(l->dl, name);
    if (sym == NULL) {
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
        funk_accel_library_close(loaded[i].dl);
    }
    free(loaded);
    loaded = NULL;
    n_loaded = 0;
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
