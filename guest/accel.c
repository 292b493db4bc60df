/* SPDX-License-Identifier: Apache-2.0 */
/* Guest side of <funk/accel.h>: every call becomes one ACCEL hypercall; handles are host ids.
 * funk_accel_sgemm, whose float parameters arrive in FP registers, is per architecture
 * (accel_x86_64.c, accel_aarch64.c): it passes their bits to sdk_accel_sgemm_bits. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <funk/abi/accel.h>
#include <funk/accel.h>

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

int funk_accel_resource_new_buffer(funk_accel_resource **out, funk_accel_resource_type type,
                                   const void *data, size_t len)
{
    if (out == NULL || data == NULL || len == 0)
        return -EINVAL;
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_RESOURCE_NEW,
                              .p = {(uint64_t)type, GPA(data), len}};
    int rc = call(&a);
    if (rc >= 0)
        *out = (funk_accel_resource *)(uintptr_t)a.resource;
    return rc < 0 ? rc : 0;
}

int funk_accel_resource_ref(funk_accel_resource *r)
{
    (void)r;
    return -ENOTSUP;
}

int funk_accel_resource_release(funk_accel_resource *r)
{
    struct funk_hc_accel a = {.op = FUNK_HC_ACCEL_RESOURCE_RELEASE, .resource = ID(r)};
    return call(&a);
}

int funk_accel_resource_hash(const funk_accel_resource *r, uint8_t out[FUNK_ACCEL_HASH_SIZE])
{
    (void)r, (void)out;
    return -ENOTSUP;
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

const char *funk_accel_op_name(funk_accel_op_id op)
{
    static const char *const names[] = {"noop",           "exec",         "sgemm",
                                        "image_classify", "image_detect", "op"};
    return (unsigned)op < FUNK_ACCEL_OP_COUNT ? names[op] : "unknown";
}
