/* SPDX-License-Identifier: Apache-2.0 */
/* funk acceleration API: one interface to acceleratable functions, native, in a container
 * (rpc plugin), or in a unikernel (guest SDK forwards every call through a hypercall). */
#ifndef FUNK_ACCEL_H
#define FUNK_ACCEL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FUNK_ACCEL_VERSION_MAJOR 0
#define FUNK_ACCEL_VERSION_MINOR 1
#define FUNK_ACCEL_VERSION_PATCH 0
#define FUNK_ACCEL_VERSION                                                                         \
    ((FUNK_ACCEL_VERSION_MAJOR << 16) | (FUNK_ACCEL_VERSION_MINOR << 8) | FUNK_ACCEL_VERSION_PATCH)

/* The version of the library actually linked (compare with FUNK_ACCEL_VERSION). */
uint32_t funk_accel_version(void);

/*
 * Errors. Every call returns 0 (or a count where documented) on success and a negative
 * errno-style code on failure. The codes used and what they mean here:
 *   -EINVAL   a bad argument: NULL pointer, zero/negative size, inconsistent strides
 *   -ENOMEM   out of memory
 *   -ENOENT   a file, plugin, symbol or operation name that does not exist
 *   -ENOTSUP  no loaded plugin implements the operation (or every one declined it)
 *   -EBADMSG  input that cannot be decoded: not an image, a corrupt or unreadable model
 *   -ENOEXEC  a shared object that is not a funk plugin, or one built for another ABI major
 *   -EBADF    a handle that is not live (released twice, session already deleted)
 *   -EPERM    a resource used with a session it is not registered to; exec of a library the
 *             operator did not install (see funk_accel_exec)
 *   -ENOSPC   an output buffer too small (the call says how much was needed where it can)
 *   -ENODEV   a plugin whose device is absent (reported at load; dispatch skips it)
 *   -E2BIG    a tensor over the caps (rank, element count, bytes, tensors per call)
 *   -EIO, -ETIMEDOUT, -ECONNRESET, -EPROTO  transport failures (rpc plugin, guest hypercall)
 */
const char *funk_accel_strerror(int err);

/* ---- Runtime set-up -------------------------------------------------------------------- */

/*
 * The runtime initialises itself on first use from the environment:
 *   FUNK_ACCEL_PLUGINS     colon-separated plugin names (looked up in FUNK_ACCEL_PLUGIN_PATH,
 *                          then next to the library: ../lib/funk, then the install dir) or
 *                          absolute paths to shared objects. Default: "cpu:exec" (noop only when named).
 *   FUNK_ACCEL_PLUGIN_PATH colon-separated directories searched for "libfunk-accel-NAME.so".
 *   FUNK_ACCEL_EXEC_DIR    the operator's exec libraries (default <dir of libfunk-accel>/funk/exec)
 *   FUNK_ACCEL_LOG_LEVEL   error | warn | info | debug (default warn)
 *   FUNK_ACCEL_PROFILE=1   print per-operation count/total/mean to stderr at exit
 * funk_accel_init() may be called instead with an explicit plugin list (NULL: environment).
 * Calling it again after plugins are loaded returns -EALREADY.
 */
int funk_accel_init(const char *plugins);
/* Unloads every plugin; sessions still open are deleted first. */
void funk_accel_fini(void);
/* Loads one more plugin by name or path (priority decides dispatch order, not load order). */
int funk_accel_plugin_load(const char *name_or_path);

/* Describes a loaded plugin for listings (funk-accel plugins). */
typedef struct funk_accel_plugin_info {
    const char *name;
    const char *version;
    const char *description;
    int priority;
    uint32_t ops;      /* bit mask of FUNK_ACCEL_OP_* it implements */
    const char *path;  /* shared object it was loaded from */
    int available;     /* 0: init() reported -ENODEV; never dispatched to */
} funk_accel_plugin_info;

/* Fills up to max entries; returns the number of loaded plugins (may exceed max). */
int funk_accel_plugins(funk_accel_plugin_info *out, size_t max);

/* Operation identifiers (bit positions in funk_accel_plugin_info.ops). */
typedef enum funk_accel_op_id {
    FUNK_ACCEL_OP_NOOP = 0,
    FUNK_ACCEL_OP_EXEC = 1,
    FUNK_ACCEL_OP_SGEMM = 2,
    FUNK_ACCEL_OP_IMAGE_CLASSIFY = 3,
    FUNK_ACCEL_OP_IMAGE_DETECT = 4,
    FUNK_ACCEL_OP_GENERIC = 5,
    FUNK_ACCEL_OP_MODEL_RUN = 6,
    FUNK_ACCEL_OP_COUNT
} funk_accel_op_id;
const char *funk_accel_op_name(funk_accel_op_id op);

/* ---- Sessions ---------------------------------------------------------------------------- */

/* A tenant's context: resources are registered to it, plugins may keep state per session. */
typedef struct funk_accel_session funk_accel_session;

int funk_accel_session_new(funk_accel_session **out);
/* Unregisters every resource still registered (dropping the session's references) and
 * frees the session. A second delete of the same handle returns -EBADF. */
int funk_accel_session_delete(funk_accel_session *s);

/* ---- Resources ----------------------------------------------------------------------------- */

typedef enum funk_accel_resource_type {
    FUNK_ACCEL_RES_MODEL = 1,   /* a model file (ONNX, ...) plus attributes */
    FUNK_ACCEL_RES_DATA = 2,    /* opaque data */
    FUNK_ACCEL_RES_LIBRARY = 3, /* a shared object for exec */
} funk_accel_resource_type;

/* A blob of content, reference-counted, identified by the SHA-256 of its bytes so a remote
 * host can cache it. New resources start with one reference held by the caller. */
typedef struct funk_accel_resource funk_accel_resource;

#define FUNK_ACCEL_HASH_SIZE 32

int funk_accel_resource_new_file(funk_accel_resource **out, funk_accel_resource_type type,
                                 const char *path);
/* Copies len bytes from data. */
int funk_accel_resource_new_buffer(funk_accel_resource **out, funk_accel_resource_type type,
                                   const void *data, size_t len);
int funk_accel_resource_ref(funk_accel_resource *r);
/* Drops one reference; the last one frees it. Releasing a dead handle returns -EBADF. */
int funk_accel_resource_release(funk_accel_resource *r);
int funk_accel_resource_hash(const funk_accel_resource *r, uint8_t out[FUNK_ACCEL_HASH_SIZE]);

/*
 * String attributes that travel with the resource (set before first registration; -EBUSY
 * after). Attributes known to the bundled plugins for a MODEL resource:
 *   "kind"      "classifier" (N class scores) | "centernet" (score-map detector)
 *   "labels"    newline-separated class names
 *   "input"     "WxH" input size, e.g. "192x48"
 *   "mean"      "r,g,b" subtracted after scaling     "scale"  "s" or "r,g,b" multiplier
 *   "channels"  "rgb" | "bgr"                         "layout" "nchw" | "nhwc"
 */
int funk_accel_resource_set_attr(funk_accel_resource *r, const char *key, const char *value);
/* Returns the value or NULL. The pointer stays valid while the resource lives. */
const char *funk_accel_resource_get_attr(const funk_accel_resource *r, const char *key);

/* A resource must be registered to a session before an operation of that session uses it.
 * Registration takes a reference; unregistering (or deleting the session) drops it. */
int funk_accel_session_register(funk_accel_session *s, funk_accel_resource *r);
int funk_accel_session_unregister(funk_accel_session *s, funk_accel_resource *r);

/* ---- Typed arguments (exec and generic operations) ----------------------------------------- */

typedef enum funk_accel_arg_type {
    FUNK_ACCEL_ARG_BYTES = 1, /* opaque bytes */
    FUNK_ACCEL_ARG_I32 = 2,
    FUNK_ACCEL_ARG_I64 = 3,
    FUNK_ACCEL_ARG_F32 = 4,
    FUNK_ACCEL_ARG_F64 = 5,
    FUNK_ACCEL_ARG_STRING = 6, /* NUL-terminated; size counts the NUL */
    FUNK_ACCEL_ARG_F32_ARRAY = 7,
} funk_accel_arg_type;

typedef struct funk_accel_arg {
    uint32_t type;  /* funk_accel_arg_type */
    uint32_t flags; /* reserved, 0 */
    void *data;     /* input: the value; output: a buffer of size bytes */
    size_t size;    /* bytes at data (for outputs: capacity) */
    size_t used;    /* outputs: bytes the operation wrote (set by the callee) */
} funk_accel_arg;

#define FUNK_ACCEL_ARG(t, p, n) ((funk_accel_arg){(uint32_t)(t), 0, (void *)(p), (n), 0})
#define FUNK_ACCEL_ARG_BYTES_OF(p, n) FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_BYTES, p, n)
#define FUNK_ACCEL_ARG_I32_OF(p) FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_I32, p, sizeof(int32_t))
#define FUNK_ACCEL_ARG_I64_OF(p) FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_I64, p, sizeof(int64_t))
#define FUNK_ACCEL_ARG_F32_OF(p) FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_F32, p, sizeof(float))
#define FUNK_ACCEL_ARG_STRING_OF(s) FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_STRING, s, strlen(s) + 1)

/* ---- Operations ---------------------------------------------------------------------------- */

/* Does nothing through the whole path: measures dispatch/transport cost. */
int funk_accel_noop(funk_accel_session *s);

/*
 * Calls `symbol` of a registered LIBRARY resource. The symbol must have the type
 * funk_accel_exec_fn; its return value is returned (negative: an error of the callee).
 * Only libraries the operator installed run: the resource's bytes must be those of a file in
 * FUNK_ACCEL_EXEC_DIR on the host that executes it (for the rpc plugin: the agent's host);
 * anything else (a guest's or client's own code) is -EPERM and is never loaded.
 */
typedef int (*funk_accel_exec_fn)(const funk_accel_arg *in, size_t n_in, funk_accel_arg *out,
                                  size_t n_out);
int funk_accel_exec(funk_accel_session *s, funk_accel_resource *library, const char *symbol,
                    const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out);

/* C = alpha * A(MxK) * B(KxN) + beta * C(MxN), row-major, leading dimensions in elements
 * (lda >= K, ldb >= N, ldc >= N). */
int funk_accel_sgemm(funk_accel_session *s, int m, int n, int k, float alpha, const float *a,
                     int lda, const float *b, int ldb, float beta, float *c, int ldc);

#define FUNK_ACCEL_LABEL_MAX 64

typedef struct funk_accel_label {
    char label[FUNK_ACCEL_LABEL_MAX]; /* NUL-terminated class name */
    int32_t class_id;
    float score; /* 0..1 */
} funk_accel_label;

typedef struct funk_accel_detection {
    funk_accel_label label;
    float x, y, w, h; /* box, fractions of image width/height, top-left origin */
} funk_accel_detection;

/*
 * Classify an encoded image (JPEG or PNG bytes). model: a registered MODEL resource, or NULL
 * for the plugin's default model. Writes up to max results, best first, and returns the number
 * written (>= 0).
 */
int funk_accel_image_classify(funk_accel_session *s, funk_accel_resource *model,
                              const void *image, size_t image_len, funk_accel_label *out,
                              size_t max);

/* Detect objects in an encoded image; min_score_pct is the threshold in percent (0 = the
 * plugin's default). Returns the number of detections written, best first. */
int funk_accel_image_detect(funk_accel_session *s, funk_accel_resource *model, const void *image,
                            size_t image_len, uint32_t min_score_pct, funk_accel_detection *out,
                            size_t max);

/* A plugin-specific operation by name ("plugin.op" or "op"). Returns what the operation returns;
 * -ENOENT when no loaded plugin knows the name. */
int funk_accel_op(funk_accel_session *s, const char *name, const funk_accel_arg *in, size_t n_in,
                  funk_accel_arg *out, size_t n_out);

/* ---- Pose and segmentation (generic operations "image_pose", "image_segment") --------------
 * Both ride on funk_accel_op, so they cross rpc and the unikernel hypercall like any named
 * operation; these inline wrappers only pack the arguments. Models: the plugin's defaults
 * (cpu, opencl: MoveNet Lightning and the MediaPipe selfie segmenter, from scripts/models.sh);
 * -ENOENT when no loaded plugin has them, -EBADMSG for bytes that are not a JPEG/PNG image. */

#define FUNK_ACCEL_KEYPOINT_NAME_MAX 24
#define FUNK_ACCEL_POSE_KEYPOINTS 17 /* COCO order: nose, left_eye, right_eye, ... right_ankle */

typedef struct funk_accel_keypoint {
    char name[FUNK_ACCEL_KEYPOINT_NAME_MAX]; /* NUL-terminated, e.g. "left_wrist" */
    float x, y;  /* fractions of image width/height, top-left origin */
    float score; /* 0..1 */
} funk_accel_keypoint;

/* Keypoints of the most prominent person in an encoded image, in COCO order. Writes up to max
 * (FUNK_ACCEL_POSE_KEYPOINTS for all) and returns the number written. */
static inline int funk_accel_image_pose(funk_accel_session *s, const void *image,
                                        size_t image_len, funk_accel_keypoint *out, size_t max)
{
    if (image == NULL || image_len == 0 || out == NULL || max == 0 ||
        max > (size_t)-1 / sizeof(*out))
        return -EINVAL;
    /* plain aggregates, no compound literals: the header is also valid C++ */
    funk_accel_arg in = {FUNK_ACCEL_ARG_BYTES, 0, (void *)image, image_len, 0};
    funk_accel_arg o = {FUNK_ACCEL_ARG_BYTES, 0, (void *)out, max * sizeof(*out), 0};
    int rc = funk_accel_op(s, "image_pose", &in, 1, &o, 1);
    if (rc > 0 && ((size_t)rc > max || o.used != (size_t)rc * sizeof(*out)))
        return -EPROTO; /* a plugin that answered something else */
    for (int i = 0; i < rc; i++) /* names came from the far side: terminate them here */
        out[i].name[FUNK_ACCEL_KEYPOINT_NAME_MAX - 1] = '\0';
    return rc;
}

/* A person mask of an encoded image: one byte per pixel, the probability that the pixel belongs
 * to a person (0..255), rows packed. *width x *height asks for the mask's size (0 x 0: the
 * image's own size) and on success holds the size written. Returns 0; -ENOSPC when mask_size <
 * width * height (for 0 x 0 give room for the image's pixels). */
static inline int funk_accel_image_segment(funk_accel_session *s, const void *image,
                                           size_t image_len, uint8_t *mask, size_t mask_size,
                                           uint32_t *width, uint32_t *height)
{
    if (image == NULL || image_len == 0 || mask == NULL || mask_size == 0 || width == NULL ||
        height == NULL)
        return -EINVAL;
    uint32_t want[2] = {*width, *height}, got[2] = {0, 0};
    funk_accel_arg in[2] = {{FUNK_ACCEL_ARG_BYTES, 0, (void *)image, image_len, 0},
                            {FUNK_ACCEL_ARG_BYTES, 0, (void *)want, sizeof(want), 0}};
    funk_accel_arg o[2] = {{FUNK_ACCEL_ARG_BYTES, 0, (void *)mask, mask_size, 0},
                           {FUNK_ACCEL_ARG_BYTES, 0, (void *)got, sizeof(got), 0}};
    int rc = funk_accel_op(s, "image_segment", in, 2, o, 2);
    if (rc < 0)
        return rc;
    if (o[1].used != sizeof(got) || got[0] == 0 || got[1] == 0 ||
        (uint64_t)got[0] * got[1] != o[0].used || o[0].used > mask_size)
        return -EPROTO; /* a plugin that answered something else */
    *width = got[0];
    *height = got[1];
    return 0;
}

/* ---- Tensors and model runs ---------------------------------------------------------------- */

/* Element types (values are part of the wire encoding: never renumbered). */
typedef enum funk_accel_dtype {
    FUNK_ACCEL_DT_F32 = 1,
    FUNK_ACCEL_DT_F64 = 2,
    FUNK_ACCEL_DT_I8 = 3,
    FUNK_ACCEL_DT_U8 = 4,
    FUNK_ACCEL_DT_I16 = 5,
    FUNK_ACCEL_DT_I32 = 6,
    FUNK_ACCEL_DT_I64 = 7,
    FUNK_ACCEL_DT_BOOL = 8, /* one byte per element, 0 or 1 */
    FUNK_ACCEL_DT_F16 = 9,  /* IEEE-754 half, as uint16_t bits */
    FUNK_ACCEL_DT_COUNT
} funk_accel_dtype;

/* Bytes per element of dtype; 0 for a dtype this library does not know. */
size_t funk_accel_dtype_size(uint32_t dtype);
/* "f32", "i64", ...; "unknown" for others. */
const char *funk_accel_dtype_name(uint32_t dtype);

#define FUNK_ACCEL_TENSOR_MAX_RANK 8u
#define FUNK_ACCEL_TENSOR_NAME_MAX 64u          /* bytes of a tensor name including its NUL */
#define FUNK_ACCEL_TENSOR_MAX 16u               /* tensors per direction in one run */
#define FUNK_ACCEL_TENSOR_MAX_BYTES (256u << 20) /* bytes of one tensor's data */

/* flags */
#define FUNK_ACCEL_TENSOR_F_OWNED 0x1u /* data was allocated by the library (see model_run) */

/*
 * A tensor: element type, shape (row-major, dense) and data. Element count is the product of
 * shape[0..rank) (rank 0: a scalar, one element); every dimension is >= 1 and the data holds
 * exactly count * funk_accel_dtype_size(dtype) bytes.
 *   name   inputs: the model's input of that name; NULL or "" binds by position.
 *          outputs: the model output to return; NULL or "" takes the model's outputs in order.
 *          At most FUNK_ACCEL_TENSOR_NAME_MAX - 1 bytes.
 *   size   inputs: bytes at data (must equal the element bytes). Outputs: capacity of data.
 *   used   outputs only: bytes written (or needed, with -ENOSPC).
 * The layout is pinned (the unikernel SDK and the host share it).
 */
typedef struct funk_accel_tensor {
    const char *name;
    uint32_t dtype; /* funk_accel_dtype */
    uint32_t rank;
    int64_t shape[FUNK_ACCEL_TENSOR_MAX_RANK];
    void *data;
    size_t size;
    size_t used;
    uint32_t flags; /* inputs: 0; outputs: FUNK_ACCEL_TENSOR_F_OWNED set by the library */
    uint32_t reserved;
} funk_accel_tensor;

#if !defined(__cplusplus) && UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(funk_accel_tensor) == 112, "funk_accel_tensor layout (LP64)");
_Static_assert(__builtin_offsetof(funk_accel_tensor, data) == 80, "funk_accel_tensor.data");
#endif

/* Fills *t (flags 0, used 0); shape may be NULL when rank is 0. -EINVAL: rank over the cap. */
int funk_accel_tensor_init(funk_accel_tensor *t, const char *name, uint32_t dtype, uint32_t rank,
                           const int64_t *shape, void *data, size_t size);
/* Element count of t (product of its shape), or -EINVAL / -E2BIG when the shape is invalid or
 * the product overflows or passes the caps; checks the dtype and that size matches when
 * check_size. */
int64_t funk_accel_tensor_count(const funk_accel_tensor *t, int check_size);
/* Frees data the library allocated (FUNK_ACCEL_TENSOR_F_OWNED) and clears data/size/used/flags;
 * caller-provided data is left alone. NULL is ignored. */
void funk_accel_tensor_release(funk_accel_tensor *t);

/*
 * Runs a registered MODEL resource on input tensors and returns its output tensors.
 * Model formats: ONNX (cpu, opencl plugins: OpenCV DNN) and TorchScript (torch plugin: a file
 * written by torch.jit.save / torch::jit::Module::save); the plugin that cannot read the
 * format declines and the next one is tried (-ENOTSUP when none can). The resource attribute
 * "format" ("onnx" | "torchscript") may name it explicitly.
 * Outputs, per out[i]:
 *   - caller-provided: data != NULL, size = capacity. On success dtype, rank, shape and used are
 *     set and data holds the tensor. A capacity too small fails the call with -ENOSPC, used =
 *     the bytes needed and dtype/rank/shape set (so the caller can size a retry).
 *   - library-allocated: data == NULL and size == 0. On success data points to `used` bytes
 *     allocated by the library, size = used and FUNK_ACCEL_TENSOR_F_OWNED is set: the caller
 *     owns them and frees them with funk_accel_tensor_release (never free()). On failure
 *     nothing stays allocated. (Unikernel guests: caller-provided buffers only; -EINVAL else.)
 * n_out may be smaller than the model's output count (the first n_out, or those named); asking
 * for more outputs than the model has is -EINVAL. Inputs are read-only and may be used
 * concurrently by several runs. Returns 0.
 */
int funk_accel_model_run(funk_accel_session *s, funk_accel_resource *model,
                         const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                         size_t n_out);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_ACCEL_H */
