/* SPDX-License-Identifier: Apache-2.0 */
/* Resources: content blobs from files or buffers, refcounted, hashed, with attributes and slots. */
#include "internal.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Guards every resource's ext_refs, regs, sealed and published. */
static pthread_mutex_t res_lock = PTHREAD_MUTEX_INITIALIZER;

static void resource_free(struct accel_resource *r)
{
    for (size_t i = 0; i < r->n_slots; i++) {
        struct accel_rslot *sl = &r->slots[i];
        if (sl->plugin && sl->value && sl->plugin->desc.resource_free)
            sl->plugin->desc.resource_free(sl->plugin->state, sl->value);
    }
    free(r->slots);
    for (size_t i = 0; i < r->n_attrs; i++) {
        free(r->attrs[i].key);
        free(r->attrs[i].value);
    }
    free(r->attrs);
    if (r->memfd >= 0)
        close(r->memfd);
    if (r->exec_fd >= 0)
        close(r->exec_fd);
    free(r->exec_path);
    free(r->path);
    free(r->data);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static void resource_destroy(void *obj)
{
    resource_free(obj);
}

static struct accel_htable res_table = ACCEL_HTABLE_INIT(ACCEL_H_RESOURCE, resource_destroy);

struct accel_resource *accel_resource_acquire(const funk_accel_resource *h)
{
    return h ? accel_htable_acquire(&res_table, (uintptr_t)h) : NULL;
}

void accel_resource_put(struct accel_resource *r)
{
    accel_htable_put(&res_table, r->handle);
}

/* Called with res_lock held: unpublishes r once nobody may name it any more. The caller then
 * puts the table's pin (outside the lock: the last put may call plugins' resource_free). */
static bool maybe_unpublish_locked(struct accel_resource *r)
{
    if (r->ext_refs || r->regs || !r->published)
        return false;
    r->published = false;
    accel_htable_remove(&res_table, r->handle);
    return true;
}

int accel_resource_reg_add(struct accel_resource *r)
{
    pthread_mutex_lock(&res_lock);
    int rc = -EBADF;
    if (r->published) {
        r->regs++;
        r->sealed = true;
        rc = 0;
    }
    pthread_mutex_unlock(&res_lock);
    return rc;
}

void accel_resource_reg_drop(struct accel_resource *r)
{
    pthread_mutex_lock(&res_lock);
    r->regs--;
    bool gone = maybe_unpublish_locked(r);
    pthread_mutex_unlock(&res_lock);
    if (gone)
        accel_resource_put(r);
}

static int publish(struct accel_resource *r, funk_accel_resource **out)
{
    r->published = true;
    int rc = accel_htable_add(&res_table, r, &r->handle);
    if (rc < 0)
        return rc;
    *out = (funk_accel_resource *)r->handle;
    return 0;
}

static struct accel_resource *resource_alloc(funk_accel_resource_type type)
{
    struct accel_resource *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->ext_refs = 1;
    r->type = type;
    r->memfd = -1;
    r->exec_fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static bool type_ok(funk_accel_resource_type type)
{
    return type == FUNK_ACCEL_RES_MODEL || type == FUNK_ACCEL_RES_DATA ||
           type == FUNK_ACCEL_RES_LIBRARY;
}

static int read_all(int fd, size_t size, void **out)
{
    /* +1: a zero byte after the content makes text resources safe to parse as strings. */
    uint8_t *buf = malloc(size + 1);
    if (buf == NULL)
        return -ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? -errno : -EIO;
            free(buf);
            return e;
        }
        got += (size_t)n;
    }
    buf[size] = 0;
    *out = buf;
    return 0;
}

FUNK_API int funk_accel_resource_new_file(funk_accel_resource **out, funk_accel_resource_type type,
                                          const char *path)
{
    if (out == NULL || path == NULL || *path == '\0' || !type_ok(type))
        return -EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = -errno;
        accel_debug("resource %s: %s", path, strerror(errno));
        return e;
    }
    struct stat st;
    int rc = 0;
    struct accel_resource *r = NULL;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        accel_debug("resource %s: not a regular file", path);
        rc = -EINVAL;
        goto out;
    }
    if (st.st_size == 0) {
        accel_debug("resource %s: empty file", path);
        rc = -EINVAL;
        goto out;
    }
    r = resource_alloc(type);
    if (r == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    r->len = (size_t)st.st_size;
    rc = read_all(fd, r->len, &r->data);
    if (rc < 0)
        goto out;
    r->path = realpath(path, NULL);
    if (r->path == NULL && (r->path = strdup(path)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    accel_sha256_digest(r->data, r->len, r->hash);
    rc = publish(r, out);
out:
    close(fd);
    if (rc < 0 && r)
        resource_free(r);
    return rc;
}

FUNK_API int funk_accel_resource_new_buffer(funk_accel_resource **out,
                                            funk_accel_resource_type type, const void *data,
                                            size_t len)
{
    if (out == NULL || data == NULL || len == 0 || !type_ok(type))
        return -EINVAL;
    struct accel_resource *r = resource_alloc(type);
    if (r == NULL)
        return -ENOMEM;
    r->data = malloc(len + 1);
    if (r->data == NULL) {
        resource_free(r);
        return -ENOMEM;
    }
    memcpy(r->data, data, len);
    ((uint8_t *)r->data)[len] = 0;
    r->len = len;
    accel_sha256_digest(r->data, r->len, r->hash);
    int rc = publish(r, out);
    if (rc < 0)
        resource_free(r);
    return rc;
}

FUNK_API int funk_accel_resource_ref(funk_accel_resource *h)
{
    if (h == NULL)
        return -EINVAL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return -EBADF;
    int rc = -EBADF;
    pthread_mutex_lock(&res_lock);
    if (r->published && r->ext_refs > 0 && r->ext_refs < UINT_MAX) {
        r->ext_refs++;
        rc = 0;
    }
    pthread_mutex_unlock(&res_lock);
    accel_resource_put(r);
    return rc;
}

FUNK_API int funk_accel_resource_release(funk_accel_resource *h)
{
    if (h == NULL)
        return -EINVAL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return -EBADF;
    int rc = 0;
    bool gone = false;
    pthread_mutex_lock(&res_lock);
    /* The caller may only drop references it holds; the rest belong to sessions. */
    if (!r->published || r->ext_refs == 0) {
        rc = -EBADF;
    } else {
        r->ext_refs--;
        gone = maybe_unpublish_locked(r);
    }
    pthread_mutex_unlock(&res_lock);
    if (gone)
        accel_resource_put(r); /* the table's pin */
    accel_resource_put(r);     /* ours */
    return rc;
}

FUNK_API int funk_accel_resource_hash(const funk_accel_resource *h,
                                      uint8_t out[FUNK_ACCEL_HASH_SIZE])
{
    if (h == NULL || out == NULL)
        return -EINVAL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return -EBADF;
    memcpy(out, r->hash, FUNK_ACCEL_HASH_SIZE);
    accel_resource_put(r);
    return 0;
}

FUNK_API int funk_accel_resource_set_attr(funk_accel_resource *h, const char *key,
                                          const char *value)
{
    if (h == NULL || key == NULL || *key == '\0' || value == NULL)
        return -EINVAL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return -EBADF;
    int rc = 0;
    pthread_mutex_lock(&res_lock);
    bool sealed = r->sealed;
    pthread_mutex_unlock(&res_lock);
    if (sealed) {
        rc = -EBUSY;
        goto out;
    }
    pthread_mutex_lock(&r->lock);
    char *v = strdup(value);
    if (v == NULL) {
        rc = -ENOMEM;
        goto unlock;
    }
    /* A new value for a known key is appended and shadows the old one, which stays alive
     * until the resource dies: get_attr promised its pointer for the resource's lifetime. */
    char *k = strdup(key);
    struct accel_attr *na = realloc(r->attrs, (r->n_attrs + 1) * sizeof(*na));
    if (k == NULL || na == NULL) {
        free(k);
        free(v);
        if (na)
            r->attrs = na;
        rc = -ENOMEM;
        goto unlock;
    }
    r->attrs = na;
    r->attrs[r->n_attrs].key = k;
    r->attrs[r->n_attrs].value = v;
    r->n_attrs++;
unlock:
    pthread_mutex_unlock(&r->lock);
out:
    accel_resource_put(r);
    return rc;
}

FUNK_API const char *funk_accel_resource_get_attr(const funk_accel_resource *h, const char *key)
{
    if (h == NULL || key == NULL)
        return NULL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return NULL;
    const char *v = NULL;
    pthread_mutex_lock(&r->lock);
    /* Latest setting wins. */
    for (size_t i = r->n_attrs; i-- > 0;) {
        if (!strcmp(r->attrs[i].key, key)) {
            v = r->attrs[i].value;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    accel_resource_put(r);
    return v;
}

/* ---- Services for plugins ---------------------------------------------------------------- */

FUNK_API funk_accel_resource_type funk_accel_resource_get_type(const funk_accel_resource *h)
{
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return (funk_accel_resource_type)0;
    funk_accel_resource_type t = r->type;
    accel_resource_put(r);
    return t;
}

FUNK_API int funk_accel_resource_data(const funk_accel_resource *h, const void **data, size_t *len)
{
    if (h == NULL || data == NULL || len == NULL)
        return -EINVAL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return -EBADF;
    *data = r->data;
    *len = r->len;
    accel_resource_put(r);
    return 0;
}

/* r->lock held. Finds the allowlisted file with r's bytes (see exec_allow.c). */
static int library_path_locked(struct accel_resource *r, const char **path)
{
    if (r->exec_path == NULL) {
        int fd;
        int rc = accel_exec_open(r->hash, &fd);
        if (rc < 0) {
            accel_exec_refused(r->hash, r->path ? r->path : "buffer");
            return -EPERM;
        }
        char buf[64];
        snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
        r->exec_path = strdup(buf);
        if (r->exec_path == NULL) {
            close(fd);
            return -ENOMEM;
        }
        r->exec_fd = fd;
    }
    *path = r->exec_path;
    return 0;
}

FUNK_API int funk_accel_resource_library_path(funk_accel_resource *h, const char **path)
{
    if (h == NULL || path == NULL)
        return -EINVAL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return -EBADF;
    int rc = -EINVAL;
    if (r->type == FUNK_ACCEL_RES_LIBRARY) {
        pthread_mutex_lock(&r->lock);
        rc = library_path_locked(r, path);
        pthread_mutex_unlock(&r->lock);
    }
    accel_resource_put(r);
    return rc;
}

FUNK_API const char *funk_accel_resource_path(const funk_accel_resource *h)
{
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return NULL;
    const char *p = NULL;
    pthread_mutex_lock(&r->lock);
    if (r->type == FUNK_ACCEL_RES_LIBRARY) {
        /* Loadable code: only ever the operator's own file, never the caller's bytes. */
        if (library_path_locked(r, &p) < 0)
            p = NULL;
        goto unlock;
    }
    if (r->path == NULL) {
        /* A buffer resource: give path-only loaders (dlopen, model readers) a memfd. */
        int fd = memfd_create("funk-accel-resource", MFD_CLOEXEC);
        if (fd < 0) {
            accel_err("memfd_create: %s", strerror(errno));
            goto unlock;
        }
        size_t off = 0;
        while (off < r->len) {
            ssize_t n = write(fd, (const uint8_t *)r->data + off, r->len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                accel_err("writing memfd: %s", strerror(errno));
                close(fd);
                goto unlock;
            }
            off += (size_t)n;
        }
        char buf[64];
        snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
        r->path = strdup(buf);
        if (r->path == NULL) {
            close(fd);
            goto unlock;
        }
        r->memfd = fd;
    }
    p = r->path;
unlock:
    pthread_mutex_unlock(&r->lock);
    accel_resource_put(r);
    return p;
}

static struct accel_plugin *call_plugin(const funk_accel_call *c)
{
    if (c == NULL)
        return NULL;
    const struct accel_call *ac = (const struct accel_call *)c;
    if (ac->magic != ACCEL_CALL_MAGIC) {
        accel_err("resource slot used with a funk_accel_call the runtime did not pass");
        return NULL;
    }
    return ac->plugin;
}

FUNK_API void *funk_accel_resource_slot_get(funk_accel_resource *h, const funk_accel_call *c)
{
    struct accel_plugin *p = call_plugin(c);
    if (p == NULL)
        return NULL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return NULL;
    void *v = NULL;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_slots; i++) {
        if (r->slots[i].plugin == p) {
            v = r->slots[i].value;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    accel_resource_put(r);
    return v;
}

FUNK_API void *funk_accel_resource_slot_set(funk_accel_resource *h, const funk_accel_call *c,
                                            void *v)
{
    struct accel_plugin *p = call_plugin(c);
    if (p == NULL || v == NULL)
        return NULL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return NULL;
    void *now = NULL;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_slots; i++) {
        if (r->slots[i].plugin == p) {
            if (r->slots[i].value == NULL)
                r->slots[i].value = v;
            now = r->slots[i].value;
            goto unlock;
        }
    }
    struct accel_rslot *ns = realloc(r->slots, (r->n_slots + 1) * sizeof(*ns));
    if (ns == NULL)
        goto unlock;
    r->slots = ns;
    r->slots[r->n_slots].plugin = p;
    r->slots[r->n_slots].value = v;
    r->n_slots++;
    now = v;
unlock:
    pthread_mutex_unlock(&r->lock);
    accel_resource_put(r);
    return now;
}

void accel_resources_drop_slots(struct accel_plugin *p)
{
    /* Each live resource is pinned while its slot is freed, and no lock is held during the
     * plugin's resource_free, which may call back into the runtime. */
    uint32_t cap = accel_htable_cap(&res_table);
    for (uint32_t i = 0; i < cap; i++) {
        uintptr_t h;
        struct accel_resource *r = accel_htable_acquire_at(&res_table, i, &h);
        if (r == NULL)
            continue;
        void *v = NULL;
        pthread_mutex_lock(&r->lock);
        for (size_t j = 0; j < r->n_slots; j++) {
            if (r->slots[j].plugin == p) {
                v = r->slots[j].value;
                r->slots[j].value = NULL;
                r->slots[j].plugin = NULL;
            }
        }
        pthread_mutex_unlock(&r->lock);
        if (v && p->desc.resource_free)
            p->desc.resource_free(p->state, v);
        accel_resource_put(r);
    }
}
