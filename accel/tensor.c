/* SPDX-License-Identifier: Apache-2.0 */
/* Tensors: dtypes, shape checks with overflow-safe products, output buffers for plugins, and the
 * receiving side of the "model_run" generic operation (every byte of it hostile). */
#include "internal.h"

#include <funk/abi/accel_tensor.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[FUNK_ACCEL_DT_COUNT] = {
    [FUNK_ACCEL_DT_F32] = {"f32", 4}, [FUNK_ACCEL_DT_F64] = {"f64", 8},
    [FUNK_ACCEL_DT_I8] = {"i8", 1},   [FUNK_ACCEL_DT_U8] = {"u8", 1},
    [FUNK_ACCEL_DT_I16] = {"i16", 2}, [FUNK_ACCEL_DT_I32] = {"i32", 4},
    [FUNK_ACCEL_DT_I64] = {"i64", 8}, [FUNK_ACCEL_DT_BOOL] = {"bool", 1},
    [FUNK_ACCEL_DT_F16] = {"f16", 2},
};

FUNK_API size_t funk_accel_dtype_size(uint32_t dtype)
{
    return dtype < FUNK_ACCEL_DT_COUNT ? dtypes[dtype].size : 0;
}

FUNK_API const char *funk_accel_dtype_name(uint32_t dtype)
{
    return dtype < FUNK_ACCEL_DT_COUNT && dtypes[dtype].name ? dtypes[dtype].name : "unknown";
}

FUNK_API int funk_accel_tensor_init(funk_accel_tensor *t, const char *name, uint32_t dtype,
                                    uint32_t rank, const int64_t *shape, void *data, size_t size)
{
    if (t == NULL || rank > FUNK_ACCEL_TENSOR_MAX_RANK || (rank > 0 && shape == NULL))
        return -EINVAL;
    *t =
        (funk_accel_tensor){.name = name, .dtype = dtype, .rank = rank, .data = data, .size = size};
    for (uint32_t i = 0; i < rank; i++)
        t->shape[i] = shape[i];
    return 0;
}

int64_t accel_tensor_shape_bytes(uint32_t dtype, uint32_t rank, const int64_t *shape,
                                 uint64_t *bytes)
{
    size_t es = funk_accel_dtype_size(dtype);
    if (rank > FUNK_ACCEL_TENSOR_MAX_RANK)
        return -E2BIG;
    if (es == 0)
        return -EINVAL;
    uint64_t count = 1;
    for (uint32_t i = 0; i < rank; i++) {
        if (shape[i] < 1)
            return -EINVAL;
        if (__builtin_mul_overflow(count, (uint64_t)shape[i], &count))
            return -E2BIG;
    }
    uint64_t b;
    if (__builtin_mul_overflow(count, (uint64_t)es, &b) || b > FUNK_ACCEL_TENSOR_MAX_BYTES)
        return -E2BIG;
    if (bytes)
        *bytes = b;
    return (int64_t)count;
}

FUNK_API int64_t funk_accel_tensor_count(const funk_accel_tensor *t, int check_size)
{
    if (t == NULL)
        return -EINVAL;
    uint64_t bytes;
    int64_t n = accel_tensor_shape_bytes(t->dtype, t->rank, t->shape, &bytes);
    if (n >= 0 && check_size && t->size != bytes)
        return -EINVAL;
    return n;
}

FUNK_API void funk_accel_tensor_release(funk_accel_tensor *t)
{
    if (t == NULL)
        return;
    if (t->flags & FUNK_ACCEL_TENSOR_F_OWNED)
        free(t->data);
    t->data = NULL;
    t->size = 0;
    t->used = 0;
    t->flags = 0;
}

FUNK_API int funk_accel_tensor_output(funk_accel_tensor *t, uint32_t dtype, uint32_t rank,
                                      const int64_t *shape, void **data)
{
    if (t == NULL || data == NULL || (rank > 0 && shape == NULL))
        return -EINVAL;
    *data = NULL;
    uint64_t bytes;
    int64_t n = accel_tensor_shape_bytes(dtype, rank, shape, &bytes);
    if (n < 0)
        return (int)n;
    t->dtype = dtype;
    t->rank = rank;
    for (uint32_t i = 0; i < FUNK_ACCEL_TENSOR_MAX_RANK; i++)
        t->shape[i] = i < rank ? shape[i] : 0;
    t->used = (size_t)bytes;
    if (t->data == NULL) {
        /* Library-allocated (the runtime let only data == NULL, size == 0 through). */
        void *p = malloc(bytes ? (size_t)bytes : 1);
        if (p == NULL)
            return -ENOMEM;
        t->data = p;
        t->size = (size_t)bytes;
        t->flags |= FUNK_ACCEL_TENSOR_F_OWNED;
    } else if (t->size < bytes) {
        return -ENOSPC;
    }
    *data = t->data;
    return 0;
}

static bool name_ok(const char *name)
{
    return name == NULL || memchr(name, '\0', FUNK_ACCEL_TENSOR_NAME_MAX) != NULL;
}

int accel_tensor_check(const funk_accel_tensor *in, size_t n_in, const funk_accel_tensor *out,
                       size_t n_out)
{
    if (in == NULL || out == NULL || n_in == 0 || n_out == 0)
        return -EINVAL;
    if (n_in > FUNK_ACCEL_TENSOR_MAX || n_out > FUNK_ACCEL_TENSOR_MAX)
        return -E2BIG;
    for (size_t i = 0; i < n_in; i++) {
        const funk_accel_tensor *t = &in[i];
        if (t->data == NULL || t->flags & ~FUNK_ACCEL_TENSOR_F_OWNED || !name_ok(t->name))
            return -EINVAL;
        int64_t n = funk_accel_tensor_count(t, 1);
        if (n < 0)
            return (int)n;
    }
    for (size_t i = 0; i < n_out; i++) {
        const funk_accel_tensor *t = &out[i];
        if ((t->data == NULL) != (t->size == 0) || t->flags & ~FUNK_ACCEL_TENSOR_F_OWNED ||
            !name_ok(t->name))
            return -EINVAL;
    }
    return 0;
}

/* ---- The "model_run" generic operation, receiving side -------------------------------------- */

static int desc_name(const struct funk_accel_tensor_desc *d, const char **name)
{
    if (memchr(d->name, '\0', sizeof(d->name)) == NULL)
        return -EINVAL;
    *name = d->name;
    return 0;
}

int accel_tensor_op(funk_accel_session *h, const funk_accel_arg *in, size_t n_in,
                    funk_accel_arg *out, size_t n_out)
{
    struct funk_accel_tensor_call call;
    if (n_in < 2 || n_out < 1 || in[0].type != FUNK_ACCEL_ARG_BYTES || in[0].size != sizeof(call) ||
        in[1].type != FUNK_ACCEL_ARG_BYTES)
        return -EINVAL;
    memcpy(&call, in[0].data, sizeof(call));
    if (call.magic != FUNK_ACCEL_TENSOR_MAGIC || call.version != FUNK_ACCEL_TENSOR_WIRE_VERSION ||
        call.flags != 0)
        return -EPROTO;
    if (call.n_in == 0 || call.n_out == 0)
        return -EINVAL;
    if (call.n_in > FUNK_ACCEL_TENSOR_MAX || call.n_out > FUNK_ACCEL_TENSOR_MAX)
        return -E2BIG;
    size_t nt = (size_t)call.n_in + call.n_out;
    if (n_in != 2 + (size_t)call.n_in || n_out != 1 + (size_t)call.n_out ||
        in[1].size != nt * sizeof(struct funk_accel_tensor_desc) ||
        out[0].type != FUNK_ACCEL_ARG_BYTES ||
        out[0].size < call.n_out * sizeof(struct funk_accel_tensor_desc))
        return -EINVAL;
    for (size_t i = 0; i < call.n_in; i++)
        if (in[2 + i].type != FUNK_ACCEL_ARG_BYTES)
            return -EINVAL;
    for (size_t i = 0; i < call.n_out; i++)
        if (out[1 + i].type != FUNK_ACCEL_ARG_BYTES)
            return -EINVAL;

    /* Copies: the descriptors may sit unaligned in guest memory, and a guest may change them
     * while we run (nothing is read twice). */
    struct funk_accel_tensor_desc d[2 * FUNK_ACCEL_TENSOR_MAX];
    memcpy(d, in[1].data, nt * sizeof(d[0]));
    funk_accel_tensor ti[FUNK_ACCEL_TENSOR_MAX], to[FUNK_ACCEL_TENSOR_MAX];
    for (size_t i = 0; i < call.n_in; i++) {
        const char *name;
        int rc = desc_name(&d[i], &name);
        if (rc < 0)
            return rc;
        if (d[i].rank > FUNK_ACCEL_TENSOR_MAX_RANK)
            return -E2BIG;
        rc = funk_accel_tensor_init(&ti[i], name, d[i].dtype, d[i].rank, d[i].shape,
                                    (void *)in[2 + i].data, in[2 + i].size);
        if (rc < 0)
            return rc;
        int64_t n = funk_accel_tensor_count(&ti[i], 1);
        if (n < 0) {
            accel_debug("model_run: input %zu: bad descriptor (%s, rank %u) for %zu bytes", i,
                        funk_accel_dtype_name(d[i].dtype), d[i].rank, in[2 + i].size);
            return (int)n;
        }
    }
    for (size_t i = 0; i < call.n_out; i++) {
        const char *name;
        int rc = desc_name(&d[call.n_in + i], &name);
        if (rc < 0)
            return rc;
        to[i] = (funk_accel_tensor){.name = name, .data = out[1 + i].data, .size = out[1 + i].size};
    }
    funk_accel_resource *model = NULL;
    int rc = accel_session_find_model(h, call.model_hash, &model);
    if (rc < 0)
        return rc;
    rc = funk_accel_model_run(h, model, ti, call.n_in, to, call.n_out);
    if (rc < 0 && rc != -ENOSPC)
        return rc;
    struct funk_accel_tensor_desc od[FUNK_ACCEL_TENSOR_MAX];
    memset(od, 0, call.n_out * sizeof(od[0]));
    for (size_t i = 0; i < call.n_out; i++) {
        od[i].dtype = to[i].dtype;
        od[i].rank = to[i].rank;
        memcpy(od[i].shape, to[i].shape, sizeof(od[i].shape));
        out[1 + i].used = to[i].used;
    }
    memcpy(out[0].data, od, call.n_out * sizeof(od[0]));
    out[0].used = call.n_out * sizeof(od[0]);
    return rc == -ENOSPC ? FUNK_ACCEL_TENSOR_R_NOSPC : 0;
}
