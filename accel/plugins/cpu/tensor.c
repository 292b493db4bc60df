/* SPDX-License-Identifier: Apache-2.0 */
/* Model runs on OpenCV DNN (ONNX): the net cache by model hash and the checks around the shim. */
#include "tensor.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct tensor_entry {
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    tensor_cv_net *net;   /* NULL: free entry */
    pthread_mutex_t lock; /* one inference at a time per net */
    unsigned users;       /* runs holding the entry (guarded by tensor_dnn.lock) */
    uint64_t last_use;
};

struct tensor_dnn {
    dnn_target target;
    const char *component;
    pthread_mutex_t lock; /* the entries' hash, net, users, last_use */
    uint64_t clock;
    struct tensor_entry e[TENSOR_DNN_CACHE];
};

int tensor_dnn_new(tensor_dnn **out, dnn_target target, const char *component)
{
    tensor_dnn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->target = target;
    t->component = component;
    pthread_mutex_init(&t->lock, NULL);
    for (size_t i = 0; i < TENSOR_DNN_CACHE; i++)
        pthread_mutex_init(&t->e[i].lock, NULL);
    *out = t;
    return 0;
}

void tensor_dnn_free(tensor_dnn *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < TENSOR_DNN_CACHE; i++) {
        tensor_cv_free(t->e[i].net);
        pthread_mutex_destroy(&t->e[i].lock);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* ONNX is a protobuf ModelProto whose writers put ir_version (field 1, varint) first: 0x08. */
static bool onnx_model(funk_accel_resource *model, const void *data, size_t len)
{
    const char *fmt = funk_accel_resource_get_attr(model, "format");
    if (fmt != NULL)
        return strcmp(fmt, "onnx") == 0;
    return len >= 2 && ((const unsigned char *)data)[0] == 0x08;
}

/* The entry holding the net of these bytes, loaded on first use; pinned (users + 1). */
static int entry_get(tensor_dnn *t, const uint8_t *hash, const void *data, size_t len,
                     struct tensor_entry **out)
{
    pthread_mutex_lock(&t->lock);
    struct tensor_entry *free_e = NULL, *lru = NULL;
    for (size_t i = 0; i < TENSOR_DNN_CACHE; i++) {
        struct tensor_entry *e = &t->e[i];
        if (e->net && !memcmp(e->hash, hash, FUNK_ACCEL_HASH_SIZE)) {
            e->users++;
            e->last_use = ++t->clock;
            pthread_mutex_unlock(&t->lock);
            *out = e;
            return 0;
        }
        if (e->net == NULL && free_e == NULL)
            free_e = e;
        if (e->net && e->users == 0 && (lru == NULL || e->last_use < lru->last_use))
            lru = e;
    }
    pthread_mutex_unlock(&t->lock);

    /* Load outside the lock (it can take long); a concurrent load of the same bytes loses. */
    char err[256] = "";
    tensor_cv_net *net = NULL;
    int rc = tensor_cv_load(&net, data, len, t->target, err, sizeof(err));
    if (rc < 0) {
        funk_accel_log(FUNK_LOG_WARN, t->component, "model_run: ONNX model of %zu bytes: %s", len,
                       err[0] ? err : funk_accel_strerror(rc));
        return rc;
    }
    pthread_mutex_lock(&t->lock);
    free_e = NULL;
    lru = NULL;
    for (size_t i = 0; i < TENSOR_DNN_CACHE; i++) {
        struct tensor_entry *e = &t->e[i];
        if (e->net && !memcmp(e->hash, hash, FUNK_ACCEL_HASH_SIZE)) {
            e->users++;
            e->last_use = ++t->clock;
            pthread_mutex_unlock(&t->lock);
            tensor_cv_free(net);
            *out = e;
            return 0;
        }
        if (e->net == NULL && free_e == NULL)
            free_e = e;
        if (e->net && e->users == 0 && (lru == NULL || e->last_use < lru->last_use))
            lru = e;
    }
    struct tensor_entry *e = free_e ? free_e : lru;
    if (e == NULL) { /* every cached net is running right now */
        pthread_mutex_unlock(&t->lock);
        tensor_cv_free(net);
        return -EBUSY;
    }
    tensor_cv_net *old = e->net;
    memcpy(e->hash, hash, FUNK_ACCEL_HASH_SIZE);
    e->net = net;
    e->users = 1;
    e->last_use = ++t->clock;
    pthread_mutex_unlock(&t->lock);
    tensor_cv_free(old);
    *out = e;
    return 0;
}

static void entry_put(tensor_dnn *t, struct tensor_entry *e)
{
    pthread_mutex_lock(&t->lock);
    e->users--;
    pthread_mutex_unlock(&t->lock);
}

struct emit_ctx {
    funk_accel_tensor *out;
};

static int emit(void *ctx, size_t i, uint32_t dtype, uint32_t rank, const int64_t *shape,
                const void *data, size_t bytes)
{
    struct emit_ctx *x = ctx;
    void *dst;
    int rc = funk_accel_tensor_output(&x->out[i], dtype, rank, shape, &dst);
    if (rc < 0)
        return rc;
    if (x->out[i].used != bytes)
        return -EPROTO;
    memcpy(dst, data, bytes);
    return 0;
}

int tensor_dnn_run(tensor_dnn *t, funk_accel_resource *model, const funk_accel_tensor *in,
                   size_t n_in, funk_accel_tensor *out, size_t n_out)
{
    const void *data;
    size_t len;
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    int rc = funk_accel_resource_data(model, &data, &len);
    if (rc == 0)
        rc = funk_accel_resource_hash(model, hash);
    if (rc < 0)
        return rc;
    if (!onnx_model(model, data, len))
        return -ENOTSUP;
    for (size_t i = 0; i < n_in; i++) {
        if (in[i].dtype != FUNK_ACCEL_DT_F32) {
            funk_accel_log(FUNK_LOG_INFO, t->component,
                           "model_run: input %zu is %s; OpenCV DNN takes f32: declined", i,
                           funk_accel_dtype_name(in[i].dtype));
            return -ENOTSUP;
        }
        if (n_in > 1 && (in[i].name == NULL || in[i].name[0] == '\0')) {
            funk_accel_log(FUNK_LOG_WARN, t->component,
                           "model_run: with several inputs each needs its name");
            return -EINVAL;
        }
    }
    const char *names[FUNK_ACCEL_TENSOR_MAX];
    for (size_t i = 0; i < n_out; i++)
        names[i] = out[i].name;
    struct tensor_entry *e;
    rc = entry_get(t, hash, data, len, &e);
    if (rc < 0)
        return rc;
    char err[256] = "";
    struct emit_ctx x = {out};
    pthread_mutex_lock(&e->lock);
    rc = tensor_cv_run(e->net, in, n_in, names, n_out, emit, &x, err, sizeof(err));
    pthread_mutex_unlock(&e->lock);
    entry_put(t, e);
    if (rc < 0 && rc != -ENOSPC)
        funk_accel_log(FUNK_LOG_WARN, t->component, "model_run: %s",
                       err[0] ? err : funk_accel_strerror(rc));
    return rc;
}
