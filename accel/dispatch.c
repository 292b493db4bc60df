/* SPDX-License-Identifier: Apache-2.0 */
/* Operations: argument checks, per-operation dispatch by priority with -ENOTSUP fallback,
 * and the FUNK_ACCEL_PROFILE counters. */
#include "internal.h"

#include <funk/abi/accel_tensor.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Profiling ---------------------------------------------------------------------------- */

atomic_bool accel_profile_on;
static struct {
    atomic_ullong count, ns;
} prof[FUNK_ACCEL_OP_COUNT];

void accel_profile_setup(void)
{
    const char *v = getenv("FUNK_ACCEL_PROFILE");
    atomic_store_explicit(&accel_profile_on, v && *v && strcmp(v, "0") != 0, memory_order_relaxed);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline bool profiling(void)
{
    return ACCEL_UNLIKELY(atomic_load_explicit(&accel_profile_on, memory_order_relaxed));
}

static inline uint64_t prof_begin(void)
{
    return profiling() ? now_ns() : 0;
}

static inline void prof_end(funk_accel_op_id op, uint64_t t0)
{
    if (profiling()) {
        atomic_fetch_add_explicit(&prof[op].count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&prof[op].ns, now_ns() - t0, memory_order_relaxed);
    }
}

__attribute__((destructor)) static void profile_report(void)
{
    if (!atomic_load(&accel_profile_on))
        return;
    fprintf(stderr, "[accel] profile: %-16s %10s %12s %12s\n", "operation", "count", "total ms",
            "mean us");
    for (int op = 0; op < FUNK_ACCEL_OP_COUNT; op++) {
        unsigned long long n = atomic_load(&prof[op].count);
        unsigned long long ns = atomic_load(&prof[op].ns);
        if (n == 0)
            continue;
        fprintf(stderr, "[accel] profile: %-16s %10llu %12.3f %12.3f\n",
                funk_accel_op_name((funk_accel_op_id)op), n, (double)ns / 1e6,
                (double)ns / 1e3 / (double)n);
    }
}

/* ---- Common steps --------------------------------------------------------------------------- */

static inline int call_init(struct accel_call *c, struct accel_session *s, struct accel_plugin *p)
{
    c->magic = ACCEL_CALL_MAGIC;
    c->plugin = p;
    c->pub.plugin = p->state;
    c->pub.session = (funk_accel_session *)s->handle;
    return accel_session_state(s, p, &c->pub.session_state);
}

/* Resolves the table (initialising on first use) and pins the session. */
static inline int begin(funk_accel_session *h, struct accel_dtable **t, struct accel_session **s)
{
    int rc = 0;
    if (ACCEL_UNLIKELY(h == NULL))
        return -EINVAL;
    *t = accel_table(&rc);
    if (ACCEL_UNLIKELY(*t == NULL))
        return rc;
    *s = accel_session_acquire(h);
    return ACCEL_UNLIKELY(*s == NULL) ? -EBADF : 0;
}

static int no_plugin(funk_accel_op_id op)
{
    accel_debug("no loaded plugin implements %s", funk_accel_op_name(op));
    return -ENOTSUP;
}

/* Pins a resource that the operation may use: it must be live, of the expected type and
 * registered to the session. NULL handle with optional=true: no resource. */
static int use_resource(struct accel_session *s, funk_accel_resource *h,
                        funk_accel_resource_type type, bool optional, struct accel_resource **out)
{
    *out = NULL;
    if (h == NULL)
        return optional ? 0 : -EINVAL;
    struct accel_resource *r = accel_resource_acquire(h);
    if (r == NULL)
        return -EBADF;
    int rc = 0;
    if (r->type != type) {
        accel_debug("resource has type %d, the operation needs %d", r->type, type);
        rc = -EINVAL;
    } else if (!accel_session_has(s, r)) {
        accel_debug("resource is not registered to the session");
        rc = -EPERM;
    }
    if (rc < 0) {
        accel_resource_put(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int check_args(const funk_accel_arg *a, size_t n, bool output)
{
    if (n > 0 && a == NULL)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (a[i].flags != 0 || a[i].data == NULL || a[i].size == 0)
            return -EINVAL;
        size_t want = 0;
        switch ((funk_accel_arg_type)a[i].type) {
        case FUNK_ACCEL_ARG_BYTES:
            break;
        case FUNK_ACCEL_ARG_I32:
        case FUNK_ACCEL_ARG_F32:
            want = 4;
            break;
        case FUNK_ACCEL_ARG_I64:
        case FUNK_ACCEL_ARG_F64:
            want = 8;
            break;
        case FUNK_ACCEL_ARG_STRING:
            if (!output && ((const char *)a[i].data)[a[i].size - 1] != '\0')
                return -EINVAL;
            break;
        case FUNK_ACCEL_ARG_F32_ARRAY:
            if (a[i].size % sizeof(float))
                return -EINVAL;
            break;
        default:
            return -EINVAL;
        }
        if (want && (output ? a[i].size < want : a[i].size != want))
            return -EINVAL;
    }
    return 0;
}

static void clear_used(funk_accel_arg *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i].used = 0;
}

/* Walks the plugins implementing an operation, best first, until one does not decline. */
#define DISPATCH(OP, FIELD, ...)                                                                   \
    do {                                                                                           \
        rc = (t)->n_by_op[OP] ? -ENOTSUP : no_plugin(OP);                                          \
        for (size_t i_ = 0; i_ < (t)->n_by_op[OP]; i_++) {                                         \
            struct accel_plugin *p_ = (t)->by_op[OP][i_];                                          \
            struct accel_call c_;                                                                  \
            rc = call_init(&c_, s, p_);                                                            \
            if (rc < 0)                                                                            \
                break;                                                                             \
            rc = p_->desc.FIELD(&c_.pub, ##__VA_ARGS__);                                           \
            if (rc != -ENOTSUP)                                                                    \
                break;                                                                             \
            accel_debug("%s: %s declined, trying the next plugin", funk_accel_op_name(OP),         \
                        p_->desc.name);                                                            \
        }                                                                                          \
    } while (0)

/* ---- Operations ------------------------------------------------------------------------------ */

FUNK_API int funk_accel_noop(funk_accel_session *h)
{
    uint64_t t0 = prof_begin();
    struct accel_dtable *t = NULL;
    struct accel_session *s = NULL;
    int rc = begin(h, &t, &s);
    if (ACCEL_UNLIKELY(rc < 0))
        return rc;
    DISPATCH(FUNK_ACCEL_OP_NOOP, noop);
    accel_session_put(s);
    prof_end(FUNK_ACCEL_OP_NOOP, t0);
    return rc;
}

FUNK_API int funk_accel_exec(funk_accel_session *h, funk_accel_resource *library,
                             const char *symbol, const funk_accel_arg *in, size_t n_in,
                             funk_accel_arg *out, size_t n_out)
{
    if (library == NULL || symbol == NULL || *symbol == '\0')
        return -EINVAL;
    int rc = check_args(in, n_in, false);
    if (rc == 0)
        rc = check_args(out, n_out, true);
    if (rc < 0)
        return rc;
    uint64_t t0 = prof_begin();
    struct accel_dtable *t = NULL;
    struct accel_session *s = NULL;
    rc = begin(h, &t, &s);
    if (rc < 0)
        return rc;
    struct accel_resource *r;
    rc = use_resource(s, library, FUNK_ACCEL_RES_LIBRARY, false, &r);
    if (rc == 0) {
        clear_used(out, n_out);
        DISPATCH(FUNK_ACCEL_OP_EXEC, exec, library, symbol, in, n_in, out, n_out);
        accel_resource_put(r);
    }
    accel_session_put(s);
    prof_end(FUNK_ACCEL_OP_EXEC, t0);
    return rc;
}

FUNK_API int funk_accel_sgemm(funk_accel_session *h, int m, int n, int k, float alpha,
                              const float *a, int lda, const float *b, int ldb, float beta,
                              float *cm, int ldc)
{
    if (m <= 0 || n <= 0 || k <= 0 || a == NULL || b == NULL || cm == NULL || lda < k || ldb < n ||
        ldc < n)
        return -EINVAL;
    uint64_t t0 = prof_begin();
    struct accel_dtable *t = NULL;
    struct accel_session *s = NULL;
    int rc = begin(h, &t, &s);
    if (rc < 0)
        return rc;
    DISPATCH(FUNK_ACCEL_OP_SGEMM, sgemm, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
    accel_session_put(s);
    prof_end(FUNK_ACCEL_OP_SGEMM, t0);
    return rc;
}

/* A plugin answering more results than asked for would have overrun the caller's array. */
static int clamp_count(int rc, size_t max, funk_accel_op_id op)
{
    if (rc > 0 && (size_t)rc > max) {
        accel_err("%s: plugin returned %d results for %zu slots", funk_accel_op_name(op), rc, max);
        return -EPROTO;
    }
    return rc;
}

FUNK_API int funk_accel_image_classify(funk_accel_session *h, funk_accel_resource *model,
                                       const void *image, size_t image_len, funk_accel_label *out,
                                       size_t max)
{
    if (image == NULL || image_len == 0 || out == NULL || max == 0)
        return -EINVAL;
    uint64_t t0 = prof_begin();
    struct accel_dtable *t = NULL;
    struct accel_session *s = NULL;
    int rc = begin(h, &t, &s);
    if (rc < 0)
        return rc;
    struct accel_resource *r;
    rc = use_resource(s, model, FUNK_ACCEL_RES_MODEL, true, &r);
    if (rc == 0) {
        DISPATCH(FUNK_ACCEL_OP_IMAGE_CLASSIFY, image_classify, model, image, image_len, out, max);
        rc = clamp_count(rc, max, FUNK_ACCEL_OP_IMAGE_CLASSIFY);
        if (r)
            accel_resource_put(r);
    }
    accel_session_put(s);
    prof_end(FUNK_ACCEL_OP_IMAGE_CLASSIFY, t0);
    return rc;
}

FUNK_API int funk_accel_image_detect(funk_accel_session *h, funk_accel_resource *model,
                                     const void *image, size_t image_len, uint32_t min_score_pct,
                                     funk_accel_detection *out, size_t max)
{
    if (image == NULL || image_len == 0 || out == NULL || max == 0 || min_score_pct > 100)
        return -EINVAL;
    uint64_t t0 = prof_begin();
    struct accel_dtable *t = NULL;
    struct accel_session *s = NULL;
    int rc = begin(h, &t, &s);
    if (rc < 0)
        return rc;
    struct accel_resource *r;
    rc = use_resource(s, model, FUNK_ACCEL_RES_MODEL, true, &r);
    if (rc == 0) {
        DISPATCH(FUNK_ACCEL_OP_IMAGE_DETECT, image_detect, model, image, image_len, min_score_pct,
                 out, max);
        rc = clamp_count(rc, max, FUNK_ACCEL_OP_IMAGE_DETECT);
        if (r)
            accel_resource_put(r);
    }
    accel_session_put(s);
    prof_end(FUNK_ACCEL_OP_IMAGE_DETECT, t0);
    return rc;
}

/* Output buffers the library allocated during a failed attempt go back; the caller's stay. */
static void outputs_reset(funk_accel_tensor *out, size_t n_out, uint32_t lib_alloc)
{
    for (size_t i = 0; i < n_out; i++) {
        if (lib_alloc & (1u << i)) {
            funk_accel_tensor_release(&out[i]);
        }
    }
}

FUNK_API int funk_accel_model_run(funk_accel_session *h, funk_accel_resource *model,
                                  const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                                  size_t n_out)
{
    if (model == NULL)
        return -EINVAL;
    int rc = accel_tensor_check(in, n_in, out, n_out);
    if (rc < 0)
        return rc;
    uint32_t lib_alloc = 0; /* outputs the library allocates (data == NULL on entry) */
    for (size_t i = 0; i < n_out; i++) {
        if (out[i].data == NULL)
            lib_alloc |= 1u << i;
        out[i].used = 0;
    }
    uint64_t t0 = prof_begin();
    struct accel_dtable *t = NULL;
    struct accel_session *s = NULL;
    rc = begin(h, &t, &s);
    if (rc < 0)
        return rc;
    struct accel_resource *r;
    rc = use_resource(s, model, FUNK_ACCEL_RES_MODEL, false, &r);
    if (rc == 0) {
        rc = t->n_by_op[FUNK_ACCEL_OP_MODEL_RUN] ? -ENOTSUP : no_plugin(FUNK_ACCEL_OP_MODEL_RUN);
        for (size_t i = 0; i < t->n_by_op[FUNK_ACCEL_OP_MODEL_RUN]; i++) {
            struct accel_plugin *p = t->by_op[FUNK_ACCEL_OP_MODEL_RUN][i];
            struct accel_call c;
            rc = call_init(&c, s, p);
            if (rc < 0)
                break;
            rc = p->desc.model_run(&c.pub, model, in, n_in, out, n_out);
            if (rc > 0) {
                accel_err("model_run: plugin %s returned %d", p->desc.name, rc);
                rc = -EPROTO;
            }
            if (rc != -ENOTSUP)
                break;
            outputs_reset(out, n_out, lib_alloc);
            accel_debug("model_run: %s declined, trying the next plugin", p->desc.name);
        }
        if (rc < 0)
            outputs_reset(out, n_out, lib_alloc);
        accel_resource_put(r);
    }
    accel_session_put(s);
    prof_end(FUNK_ACCEL_OP_MODEL_RUN, t0);
    return rc;
}

static struct accel_plugin *plugin_named(struct accel_dtable *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->n_plugins; i++) {
        const char *pn = t->plugins[i]->desc.name;
        if (strlen(pn) == len && !memcmp(pn, name, len))
            return t->plugins[i];
    }
    return NULL;
}

FUNK_API int funk_accel_op(funk_accel_session *h, const char *name, const funk_accel_arg *in,
                           size_t n_in, funk_accel_arg *out, size_t n_out)
{
    if (name == NULL || *name == '\0')
        return -EINVAL;
    int rc = check_args(in, n_in, false);
    if (rc == 0)
        rc = check_args(out, n_out, true);
    if (rc < 0)
        return rc;
    uint64_t t0 = prof_begin();
    struct accel_dtable *t = NULL;
    struct accel_session *s = NULL;
    rc = begin(h, &t, &s);
    if (rc < 0)
        return rc;
    clear_used(out, n_out);

    /* "plugin.op" targets one plugin, which sees just "op". */
    const char *dot = strchr(name, '.');
    struct accel_plugin *target = dot ? plugin_named(t, name, (size_t)(dot - name)) : NULL;
    if (target) {
        struct accel_call c;
        if (dot[1] == '\0')
            rc = -EINVAL;
        else if (!target->available)
            rc = -ENODEV;
        else if (target->desc.op == NULL)
            rc = -ENOENT;
        else if ((rc = call_init(&c, s, target)) == 0)
            rc = target->desc.op(&c.pub, dot + 1, in, n_in, out, n_out);
        goto out;
    }
    /* The runtime's own operation: a model run encoded as generic arguments (transports). */
    if (!strcmp(name, FUNK_ACCEL_TENSOR_OP)) {
        rc = accel_tensor_op(h, in, n_in, out, n_out);
        goto out;
    }
    /* Untargeted: the best plugin that knows the name; -ENOENT when nobody does. */
    int final = -ENOENT;
    for (size_t i = 0; i < t->n_by_op[FUNK_ACCEL_OP_GENERIC]; i++) {
        struct accel_plugin *p = t->by_op[FUNK_ACCEL_OP_GENERIC][i];
        struct accel_call c;
        rc = call_init(&c, s, p);
        if (rc < 0)
            goto out;
        rc = p->desc.op(&c.pub, name, in, n_in, out, n_out);
        if (rc == -ENOTSUP)
            final = -ENOTSUP;
        else if (rc != -ENOENT)
            goto out;
    }
    rc = final;
    if (rc == -ENOENT)
        accel_debug("no loaded plugin knows the operation '%s'", name);
out:
    accel_session_put(s);
    prof_end(FUNK_ACCEL_OP_GENERIC, t0);
    return rc;
}
