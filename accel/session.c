/* SPDX-License-Identifier: Apache-2.0 */
/* Sessions: a tenant's context, its resource registrations and per-plugin session state. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Runs when the last pin goes: no operation is in flight on s any more. */
static void session_destroy(void *obj)
{
    struct accel_session *s = obj;
    for (size_t i = 0; i < s->n_regs; i++)
        accel_resource_reg_drop(s->regs[i]);
    free(s->regs);
    struct accel_sstate_vec *v = atomic_load(&s->states);
    if (v) {
        for (uint32_t i = 0; i < v->n; i++) {
            struct accel_plugin *p = v->v[i].plugin;
            if (p && p->desc.session_close)
                p->desc.session_close(p->state, v->v[i].state);
        }
    }
    while (v) {
        struct accel_sstate_vec *prev = v->prev;
        free(v);
        v = prev;
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static struct accel_htable sess_table = ACCEL_HTABLE_INIT(ACCEL_H_SESSION, session_destroy);

struct accel_session *accel_session_acquire(funk_accel_session *h)
{
    return accel_htable_acquire(&sess_table, (uintptr_t)h);
}

void accel_session_put(struct accel_session *s)
{
    accel_htable_put(&sess_table, s->handle);
}

FUNK_API int funk_accel_session_new(funk_accel_session **out)
{
    if (out == NULL)
        return -EINVAL;
    int rc = 0;
    if (accel_table(&rc) == NULL)
        return rc;
    struct accel_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    atomic_init(&s->states, NULL);
    pthread_mutex_init(&s->lock, NULL);
    rc = accel_htable_add(&sess_table, s, &s->handle);
    if (rc < 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return rc;
    }
    *out = (funk_accel_session *)s->handle;
    return 0;
}

FUNK_API int funk_accel_session_delete(funk_accel_session *h)
{
    if (h == NULL)
        return -EINVAL;
    struct accel_session *s = accel_htable_remove(&sess_table, (uintptr_t)h);
    if (s == NULL)
        return -EBADF;
    if (s->n_regs)
        accel_debug("session deleted with %zu resource(s) still registered: unregistering",
                    s->n_regs);
    accel_session_put(s);
    return 0;
}

void accel_sessions_delete_all(void)
{
    uint32_t cap = accel_htable_cap(&sess_table);
    for (uint32_t i = 0; i < cap; i++) {
        uintptr_t h;
        if (accel_htable_acquire_at(&sess_table, i, &h) == NULL)
            continue;
        if (accel_htable_remove(&sess_table, h))
            accel_htable_put(&sess_table, h); /* the table's pin */
        accel_htable_put(&sess_table, h);     /* ours */
    }
}

int accel_session_state_slow(struct accel_session *s, struct accel_plugin *p, void **state)
{
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    struct accel_sstate_vec *old = atomic_load_explicit(&s->states, memory_order_relaxed);
    if (old && p->index < old->n && old->v[p->index].plugin == p) {
        *state = old->v[p->index].state;
        goto out;
    }
    void *st = NULL;
    if (p->desc.session_open) {
        rc = p->desc.session_open(p->state, &st);
        if (rc < 0) {
            funk_accel_log(FUNK_LOG_WARN, p->desc.name, "session_open failed: %s",
                           funk_accel_strerror(rc));
            goto out;
        }
    }
    uint32_t n = old && old->n > p->index ? old->n : p->index + 1;
    struct accel_sstate_vec *v = calloc(1, sizeof(*v) + n * sizeof(v->v[0]));
    if (v == NULL) {
        if (p->desc.session_close)
            p->desc.session_close(p->state, st);
        rc = -ENOMEM;
        goto out;
    }
    v->n = n;
    if (old)
        memcpy(v->v, old->v, old->n * sizeof(v->v[0]));
    v->v[p->index].state = st;
    v->v[p->index].plugin = p;
    /* Readers may still hold the old vector: keep it until the session dies. */
    v->prev = old;
    atomic_store_explicit(&s->states, v, memory_order_release);
    *state = st;
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

bool accel_session_has(struct accel_session *s, struct accel_resource *r)
{
    bool found = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_regs && !found; i++)
        found = s->regs[i] == r;
    pthread_mutex_unlock(&s->lock);
    return found;
}

FUNK_API int funk_accel_session_register(funk_accel_session *h, funk_accel_resource *rh)
{
    if (h == NULL || rh == NULL)
        return -EINVAL;
    struct accel_session *s = accel_session_acquire(h);
    if (s == NULL)
        return -EBADF;
    struct accel_resource *r = accel_resource_acquire(rh);
    int rc = -EBADF;
    if (r == NULL)
        goto out;
    rc = accel_resource_reg_add(r);
    if (rc < 0)
        goto out;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_regs; i++) {
        if (s->regs[i] == r) {
            rc = -EEXIST;
            goto unlock;
        }
    }
    if (s->n_regs == s->cap_regs) {
        size_t ncap = s->cap_regs ? s->cap_regs * 2 : 8;
        struct accel_resource **nr = realloc(s->regs, ncap * sizeof(*nr));
        if (nr == NULL) {
            rc = -ENOMEM;
            goto unlock;
        }
        s->regs = nr;
        s->cap_regs = ncap;
    }
    s->regs[s->n_regs++] = r;
unlock:
    pthread_mutex_unlock(&s->lock);
    if (rc < 0)
        accel_resource_reg_drop(r);
out:
    if (r)
        accel_resource_put(r);
    accel_session_put(s);
    return rc;
}

FUNK_API int funk_accel_session_unregister(funk_accel_session *h, funk_accel_resource *rh)
{
    if (h == NULL || rh == NULL)
        return -EINVAL;
    struct accel_session *s = accel_session_acquire(h);
    if (s == NULL)
        return -EBADF;
    struct accel_resource *r = accel_resource_acquire(rh);
    int rc = -EBADF;
    if (r == NULL)
        goto out;
    rc = -EPERM; /* not registered to this session */
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_regs; i++) {
        if (s->regs[i] == r) {
            s->regs[i] = s->regs[--s->n_regs];
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (rc == 0)
        accel_resource_reg_drop(r);
    accel_resource_put(r);
out:
    accel_session_put(s);
    return rc;
}

int accel_session_find_model(funk_accel_session *h, const uint8_t hash[FUNK_ACCEL_HASH_SIZE],
                             funk_accel_resource **model)
{
    struct accel_session *s = accel_session_acquire(h);
    if (s == NULL)
        return -EBADF;
    int rc = -ENOENT;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_regs; i++) {
        struct accel_resource *r = s->regs[i];
        if (r->type == FUNK_ACCEL_RES_MODEL && !memcmp(r->hash, hash, FUNK_ACCEL_HASH_SIZE)) {
            *model = (funk_accel_resource *)r->handle;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    accel_session_put(s);
    if (rc < 0)
        accel_debug("model_run: no MODEL resource with that hash is registered to the session");
    return rc;
}
