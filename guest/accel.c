/* SPDX-License-Identifier: Apache-2.0 */
/* Guest side of <funk/accel.h>: every call becomes one ACCEL hypercall; handles are host ids.
 * funk_accel_sgemm, whose float parameters arrive in FP registers, is per architecture
 * (accel_x86_64.c, accel_aarch64.c): it passes their bits to sdk_accel_sgemm_bits. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <funk/abi/accel.h>
#include <funk/abi/accel_tensor.h>
#include <funk/accel.h>

#include "../accel/sha256.h"
#include "accel_internal.h"
#include "sdk.h"

_Static_assert(sizeof(funk_accel_arg) == sizeof(struct funk_hc_accel_arg), "arg layout");
_Static_assert(offsetof(funk_accel_arg, used) == offsetof(struct funk_hc_accel_arg, used), "used");
_Static_assert(sizeof(funk_accel_label) == sizeof(struct funk_hc_accel_label), "label layout");
_Static_assert(sizeof(funk_accel_detection) == sizeof(struct funk_hc_accel_detection), "det");

/* Announces ACCEL use to the monitor (see FUNK_NOTE_TYPE_ACCEL). */
const struct funk_note __funk_accel_note
    __attribute__((section(".note.funk"), aligned(4), used)) = {
        .n_namesz = 5,
        .n_descsz = sizeof(struct funk_note_info),
        .n_type = FUNK_NOTE_TYPE_ACCEL,
        .n_name = FUNK_NOTE_OWNER,
        .i = {.abi_version = FUNK_ABI_VERSION, .flags = 0}};

#define ID(h) ((uint32_t)(uintptr_t)(h))
#define GPA(p) ((uint64_t)(uintptr_t)(p))

static int call(struct funk_hc_accel *a)
{
    if (sdk_funk == NULL)
        return -ENOSYS; /* a plain Solo5 monitor: no funk hypercalls */
    a->ret = -ENOSYS;
    sdk_hypercall(FUNK_HC_ACCEL, a);
    return a->ret;
}

uint32_t funk_accel_version(void)
{
    return FUNK_ACCEL_VERSION;
}

const char *funk_accel_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case 0:
        return "success";
    case EINVAL:
        return "invalid argument";
    case ENOMEM:
        return "out of memory";
    case ENOENT:
        return "no such file, plugin, symbol or operation";
    case ENOTSUP:
        return "operation not supported by any loaded plugin";
    case EBADF:
        return "handle is not live (released or deleted)";
    case EPERM:
        return "resource not registered to this session";
    case ENOSPC:
        return "output buffer too small";
    case EFAULT:
        return "buffer outside guest memory";
    case ENOSYS:
        return "no ACCEL hypercall (monitor without accel)";
    case EIO:
        return "I/O error";
    case ETIMEDOUT:
        return "timed out";
    case EPROTO:
        return "protocol error";
    default:
        return "error";
    }
}

int funk_accel_init(const char *plugins)
{
    (void)plugins; /* the host chose its plugins */
    return 0;
}

void funk_accel_fini(void)
{
}

int funk_accel_plugin_load(const char *name_or_path)
{
    (void)name_or_path;
    return -ENOTSUP;
}

int funk_accel_plugins(funk_accel_plugin_info *out, size_t max)
{
    (void)out;
    (void)max;
    return 0;
}

int funk_accel_session_new(funk_accel_session **out)
{
    if (out == NULL)
        return -EINVAL;
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_SESSION_NEW};
    int rc = call(&a);
    if (rc >= 0)
        *out = (funk_accel_session *)(uintptr_t)a.session;
    return rc < 0 ? rc : 0;
}

int funk_accel_session_delete(funk_accel_session *s)
{
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_SESSION_DELETE, .session = ID(s)};
    return call(&a);
}

int funk_accel_resource_new_file(funk_accel_resource **out, funk_accel_resource_type type,
                                 const char *path)
{
    (void)out, (void)type, (void)path;
    return -ENOTSUP; /* no file system in a unikernel: use funk_accel_resource_new_buffer */
}

/*
 * Model runs name their model by its SHA-256 (funk/abi/accel_tensor.h), which the host knows
 * and the guest must compute. It is computed on the first model run (or resource_hash) of a
 * MODEL resource, from the buffer it was created from, so guests that never run a model pay
 * nothing: keep that buffer unchanged until then (changed bytes name no model: -ENOENT). Integer
 * code only; under an emulating KVM about 1 ms per 64 bytes, so small models suit unikernels best.
 */
#define GUEST_MODELS 64u
static struct {
    uint32_t id; /* 0: free */
    bool hashed;
    const void *data;
    size_t len;
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
} guest_models[GUEST_MODELS];

static void model_forget(uint32_t id)
{
    for (unsigned i = 0; i < GUEST_MODELS; i++)
        if (guest_models[i].id == id)
            guest_models[i].id = 0;
}

static const uint8_t *model_hash(uint32_t id)
{
    for (unsigned i = 0; id && i < GUEST_MODELS; i++) {
        if (guest_models[i].id == id) {
            if (!guest_models[i].hashed) {
                accel_sha256_digest(guest_models[i].data, guest_models[i].len,
                                    guest_models[i].hash);
                guest_models[i].hashed = true;
            }
            return guest_models[i].hash;
        }
    }
    return NULL;
}

int funk_accel_resource_new_buffer(funk_accel_resource **out, funk_accel_resource_type type,
                                   const void *data, size_t len)
{
    if (out == NULL || data == NULL || len == 0)
        return -EINVAL;
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_RESOURCE_NEW,
                              .p = {(uint64_t)type, GPA(data), len}};
    int rc = call(&a);
    if (rc < 0)
        return rc;
    *out = (funk_accel_resource *)(uintptr_t)a.resource;
    if (type == FUNK_ACCEL_RES_MODEL) {
        model_forget(a.resource); /* a stale entry of a released id */
        for (unsigned i = 0; i < GUEST_MODELS; i++) {
            if (guest_models[i].id == 0) {
                guest_models[i].id = a.resource;
                guest_models[i].hashed = false;
                guest_models[i].data = data;
                guest_models[i].len = len;
                break;
            }
        }
    }
    return 0;
}

int funk_accel_resource_ref(funk_accel_resource *r)
{
    (void)r;
    return -ENOTSUP;
}

int funk_accel_resource_release(funk_accel_resource *r)
{
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_RESOURCE_RELEASE, .resource = ID(r)};
    int rc = call(&a);
    if (rc == 0)
        model_forget(ID(r));
    return rc;
}

int funk_accel_resource_hash(const funk_accel_resource *r, uint8_t out[FUNK_ACCEL_HASH_SIZE])
{
    const uint8_t *h = model_hash(ID(r));
    if (h == NULL || out == NULL)
        return -ENOTSUP; /* only MODEL resources are hashed in a guest */
    memcpy(out, h, FUNK_ACCEL_HASH_SIZE);
    return 0;
}

int funk_accel_resource_set_attr(funk_accel_resource *r, const char *key, const char *value)
{
    if (key == NULL || value == NULL)
        return -EINVAL;
    struct funk_hc_accel a = {
        .op = FUNK_HC_ACCEL_RESOURCE_ATTR, .resource = ID(r), .p = {GPA(key), GPA(value)}};
    return call(&a);
}

const char *funk_accel_resource_get_attr(const funk_accel_resource *r, const char *key)
{
    (void)r, (void)key;
    return NULL;
}

int funk_accel_session_register(funk_accel_session *s, funk_accel_resource *r)
{
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_REGISTER, .session = ID(s), .resource = ID(r)};
    return call(&a);
}

int funk_accel_session_unregister(funk_accel_session *s, funk_accel_resource *r)
{
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_UNREGISTER, .session = ID(s), .resource = ID(r)};
    return call(&a);
}

int funk_accel_noop(funk_accel_session *s)
{
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_NOOP, .session = ID(s)};
    return call(&a);
}

int funk_accel_exec(funk_accel_session *s, funk_accel_resource *library, const char *symbol,
                    const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out)
{
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_EXEC,
                              .session = ID(s),
                              .resource = ID(library),
                              .p = {GPA(symbol), GPA(in), n_in, GPA(out), n_out}};
    return call(&a);
}

__attribute__((noinline)) int sdk_accel_sgemm_bits(funk_accel_session *s, int m, int n, int k,
                                                   uint32_t ab, const float *a, int lda,
                                                   const float *b, int ldb, uint32_t bb, float *c,
                                                   int ldc)
{
    struct funk_hc_accel h = {.op = FUNK_HC_ACCEL_SGEMM,
                              .session = ID(s),
                              .p = {(uint64_t)(int64_t)m, (uint64_t)(int64_t)n,
                                    (uint64_t)(int64_t)k, (uint64_t)(int64_t)lda,
                                    (uint64_t)(int64_t)ldb, (uint64_t)(int64_t)ldc,
                                    (uint64_t)ab | (uint64_t)bb << 32, GPA(a), GPA(b), GPA(c)}};
    return call(&h);
}

int funk_accel_image_classify(funk_accel_session *s, funk_accel_resource *model, const void *image,
                              size_t image_len, funk_accel_label *out, size_t max)
{
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_CLASSIFY,
                              .session = ID(s),
                              .resource = ID(model),
                              .p = {GPA(image), image_len, GPA(out), max}};
    return call(&a);
}

int funk_accel_image_detect(funk_accel_session *s, funk_accel_resource *model, const void *image,
                            size_t image_len, uint32_t min_score_pct, funk_accel_detection *out,
                            size_t max)
{
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_DETECT,
                              .session = ID(s),
                              .resource = ID(model),
                              .p = {GPA(image), image_len, GPA(out), max, min_score_pct}};
    return call(&a);
}

int funk_accel_op(funk_accel_session *s, const char *name, const funk_accel_arg *in, size_t n_in,
                  funk_accel_arg *out, size_t n_out)
{
    struct funk_hc_accel a = {
        .op = FUNK_HC_ACCEL_OP, .session = ID(s), .p = {GPA(name), GPA(in), n_in, GPA(out), n_out}};
    return call(&a);
}

/* ---- Tensors: the host's checks are the ones that count; these only spare a hypercall ---- */

size_t funk_accel_dtype_size(uint32_t dtype)
{
    static const uint8_t size[FUNK_ACCEL_DT_COUNT] = {0, 4, 8, 1, 1, 2, 4, 8, 1, 2};
    return dtype < FUNK_ACCEL_DT_COUNT ? size[dtype] : 0;
}

const char *funk_accel_dtype_name(uint32_t dtype)
{
    static const char *const names[FUNK_ACCEL_DT_COUNT] = {
        "unknown", "f32", "f64", "i8", "u8", "i16", "i32", "i64", "bool", "f16"};
    return dtype < FUNK_ACCEL_DT_COUNT ? names[dtype] : "unknown";
}

int funk_accel_tensor_init(funk_accel_tensor *t, const char *name, uint32_t dtype, uint32_t rank,
                           const int64_t *shape, void *data, size_t size)
{
    if (t == NULL || rank > FUNK_ACCEL_TENSOR_MAX_RANK || (rank > 0 && shape == NULL))
        return -EINVAL;
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->dtype = dtype;
    t->rank = rank;
    for (uint32_t i = 0; i < rank; i++)
        t->shape[i] = shape[i];
    t->data = data;
    t->size = size;
    return 0;
}

int64_t funk_accel_tensor_count(const funk_accel_tensor *t, int check_size)
{
    if (t == NULL)
        return -EINVAL;
    if (t->rank > FUNK_ACCEL_TENSOR_MAX_RANK)
        return -E2BIG;
    size_t es = funk_accel_dtype_size(t->dtype);
    if (es == 0)
        return -EINVAL;
    uint64_t n = 1, b;
    for (uint32_t i = 0; i < t->rank; i++) {
        if (t->shape[i] < 1)
            return -EINVAL;
        if (__builtin_mul_overflow(n, (uint64_t)t->shape[i], &n))
            return -E2BIG;
    }
    if (__builtin_mul_overflow(n, (uint64_t)es, &b) || b > FUNK_ACCEL_TENSOR_MAX_BYTES)
        return -E2BIG;
    if (check_size && b != t->size)
        return -EINVAL;
    return (int64_t)n;
}

void funk_accel_tensor_release(funk_accel_tensor *t)
{
    if (t == NULL)
        return;
    t->data = NULL; /* a guest's outputs are always its own buffers */
    t->size = t->used = 0;
    t->flags = 0;
}

static void copy_name(char dst[FUNK_ACCEL_TENSOR_NAME_MAX], const char *name)
{
    size_t n = name ? strlen(name) : 0;
    memcpy(dst, name ? name : "", n);
    dst[n] = '\0';
}

/* The generic operation "model_run" on guest buffers: zero copies of tensor data (the host reads
 * inputs and writes outputs in place, or its transport does). */
int funk_accel_model_run(funk_accel_session *s, funk_accel_resource *model,
                         const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                         size_t n_out)
{
    const uint8_t *hash = model_hash(ID(model));
    if (hash == NULL || in == NULL || out == NULL || n_in == 0 || n_out == 0)
        return -EINVAL;
    if (n_in > FUNK_ACCEL_TENSOR_MAX || n_out > FUNK_ACCEL_TENSOR_MAX)
        return -E2BIG;
    static struct funk_accel_tensor_call call;
    static struct funk_accel_tensor_desc d[2 * FUNK_ACCEL_TENSOR_MAX], od[FUNK_ACCEL_TENSOR_MAX];
    static funk_accel_arg ain[2 + FUNK_ACCEL_TENSOR_MAX], aout[1 + FUNK_ACCEL_TENSOR_MAX];
    call = (struct funk_accel_tensor_call){.magic = FUNK_ACCEL_TENSOR_MAGIC,
                                           .version = FUNK_ACCEL_TENSOR_WIRE_VERSION,
                                           .n_in = (uint32_t)n_in,
                                           .n_out = (uint32_t)n_out};
    memcpy(call.model_hash, hash, sizeof(call.model_hash));
    memset(d, 0, sizeof(d));
    for (size_t i = 0; i < n_in; i++) {
        int64_t n = funk_accel_tensor_count(&in[i], 1);
        if (n < 0)
            return (int)n;
        if ((in[i].name && strlen(in[i].name) >= FUNK_ACCEL_TENSOR_NAME_MAX) || in[i].data == NULL)
            return -EINVAL;
        d[i].dtype = in[i].dtype;
        d[i].rank = in[i].rank;
        memcpy(d[i].shape, in[i].shape, sizeof(d[i].shape));
        copy_name(d[i].name, in[i].name);
        ain[2 + i] = FUNK_ACCEL_ARG_BYTES_OF(in[i].data, in[i].size);
    }
    for (size_t i = 0; i < n_out; i++) {
        /* No allocator on the host's side of a guest: outputs are the guest's buffers. */
        if (out[i].data == NULL || out[i].size == 0 ||
            (out[i].name && strlen(out[i].name) >= FUNK_ACCEL_TENSOR_NAME_MAX))
            return -EINVAL;
        copy_name(d[n_in + i].name, out[i].name);
        aout[1 + i] = FUNK_ACCEL_ARG_BYTES_OF(out[i].data, out[i].size);
    }
    ain[0] = FUNK_ACCEL_ARG_BYTES_OF(&call, sizeof(call));
    ain[1] = FUNK_ACCEL_ARG_BYTES_OF(d, (n_in + n_out) * sizeof(d[0]));
    aout[0] = FUNK_ACCEL_ARG_BYTES_OF(od, n_out * sizeof(od[0]));
    int rc = funk_accel_op(s, FUNK_ACCEL_TENSOR_OP, ain, 2 + n_in, aout, 1 + n_out);
    if (rc < 0)
        return rc;
    if (rc > FUNK_ACCEL_TENSOR_R_NOSPC || aout[0].used != n_out * sizeof(od[0]))
        return -EPROTO;
    for (size_t i = 0; i < n_out; i++) {
        if (od[i].rank > FUNK_ACCEL_TENSOR_MAX_RANK)
            return -EPROTO;
        out[i].dtype = od[i].dtype;
        out[i].rank = od[i].rank;
        memcpy(out[i].shape, od[i].shape, sizeof(out[i].shape));
        out[i].used = aout[1 + i].used;
    }
    return rc == FUNK_ACCEL_TENSOR_R_NOSPC ? -ENOSPC : 0;
}

const char *funk_accel_op_name(funk_accel_op_id op)
{
    static const char *const names[] = {"noop",           "exec",         "sgemm",
                                        "image_classify", "image_detect", "op",
                                        "model_run"};
    return (unsigned)op < FUNK_ACCEL_OP_COUNT ? names[op] : "unknown";
}
