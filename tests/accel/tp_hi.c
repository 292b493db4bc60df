/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin "tphi" (priority 500): declines some operations, counts calls, uses slots and
 * per-session state so the unit tests can observe dispatch order and lifetimes. */
#include <funk/accel_plugin.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int noops, frees, sessions, inits;

static int tp_init(void **state)
{
    atomic_fetch_add(&inits, 1);
    *state = malloc(16);
    return *state ? 0 : -ENOMEM;
}

static void tp_fini(void *state)
{
    atomic_fetch_sub(&inits, 1);
    free(state);
}

static int tp_session_open(void *plugin, void **st)
{
    (void)plugin;
    *st = malloc(sizeof(int));
    if (*st == NULL)
        return -ENOMEM;
    atomic_fetch_add(&sessions, 1);
    return 0;
}

static void tp_session_close(void *plugin, void *st)
{
    (void)plugin;
    atomic_fetch_sub(&sessions, 1);
    free(st);
}

static void tp_resource_free(void *plugin, void *slot)
{
    (void)plugin;
    atomic_fetch_add(&frees, 1);
    free(slot);
}

static int tp_noop(const funk_accel_call *c)
{
    if (c->plugin == NULL || c->session_state == NULL || c->session == NULL)
        return -EPROTO;
    atomic_fetch_add(&noops, 1);
    return 0;
}

static int tp_sgemm(const funk_accel_call *c, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *cm, int ldc)
{
    (void)c, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;
    (void)beta, (void)cm, (void)ldc;
    return -ENOTSUP;
}

/* Without a model: declines. With one: answers the model's "labels" attribute, cached in
 * the resource's slot for this plugin. */
static int tp_classify(const funk_accel_call *c, funk_accel_resource *model, const void *image,
                       size_t image_len, funk_accel_label *out, size_t max)
{
    (void)image, (void)image_len, (void)max;
    if (model == NULL)
        return -ENOTSUP;
    char *cached = funk_accel_resource_slot_get(model, c);
    if (cached == NULL) {
        const char *l = funk_accel_resource_get_attr(model, "labels");
        char *mine = strdup(l ? l : "none");
        if (mine == NULL)
            return -ENOMEM;
        cached = funk_accel_resource_slot_set(model, c, mine);
        if (cached != mine)
            free(mine);
        if (cached == NULL)
            return -ENOMEM;
    }
    memset(&out[0], 0, sizeof(out[0]));
    strncpy(out[0].label, cached, sizeof(out[0].label) - 1);
    out[0].score = 1.0f;
    return 1;
}

static int put_string(funk_accel_arg *out, size_t n_out, const char *s)
{
    size_t len = strlen(s) + 1;
    if (n_out < 1 || out[0].size < len)
        return -ENOSPC;
    memcpy(out[0].data, s, len);
    out[0].used = len;
    return 0;
}

static int tp_op(const funk_accel_call *c, const char *name, const funk_accel_arg *in, size_t n_in,
                 funk_accel_arg *out, size_t n_out)
{
    (void)c, (void)in, (void)n_in;
    if (!strcmp(name, "who"))
        return put_string(out, n_out, "tphi");
    if (!strcmp(name, "decline"))
        return -ENOTSUP;
    if (!strcmp(name, "noops"))
        return atomic_load(&noops);
    if (!strcmp(name, "frees"))
        return atomic_load(&frees);
    if (!strcmp(name, "sessions"))
        return atomic_load(&sessions);
    if (!strcmp(name, "inits"))
        return atomic_load(&inits);
    return -ENOENT;
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 500, .name = "tphi", .version = "1.2.3",
                         .description = "test plugin, high priority", .init = tp_init,
                         .fini = tp_fini, .session_open = tp_session_open,
                         .session_close = tp_session_close, .resource_free = tp_resource_free,
                         .noop = tp_noop, .sgemm = tp_sgemm, .image_classify = tp_classify,
                         .op = tp_op);
