/* SPDX-License-Identifier: Apache-2.0 */
/* funk accel plugin ABI: what a plugin shared object exports and what the runtime gives it. */
#ifndef FUNK_ACCEL_PLUGIN_H
#define FUNK_ACCEL_PLUGIN_H

#include <funk/accel.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ABI versioning: a plugin whose abi_major differs from the runtime's is refused (-ENOEXEC,
 * with both numbers in the log). A newer abi_minor only appends fields at the end of
 * funk_accel_plugin; the runtime reads struct_size before touching any appended field.
 */
#define FUNK_ACCEL_PLUGIN_ABI_MAJOR 1
#define FUNK_ACCEL_PLUGIN_ABI_MINOR 1 /* 1: model_run appended */

/* The one symbol every plugin exports. */
#define FUNK_ACCEL_PLUGIN_SYMBOL "funk_accel_plugin_descriptor"

/* What every operation receives: the plugin's own state and the calling session. */
typedef struct funk_accel_call {
    void *plugin;               /* from init() */
    void *session_state;        /* from session_open(), per (session, plugin); may be NULL */
    funk_accel_session *session;
} funk_accel_call;

typedef int (*funk_accel_plugin_init_fn)(void **plugin_state);
typedef void (*funk_accel_plugin_fini_fn)(void *plugin_state);
typedef int (*funk_accel_session_open_fn)(void *plugin_state, void **session_state);
typedef void (*funk_accel_session_close_fn)(void *plugin_state, void *session_state);
/* Called when a resource whose slot this plugin filled dies (last reference dropped). */
typedef void (*funk_accel_resource_free_fn)(void *plugin_state, void *slot);

typedef int (*funk_accel_noop_fn)(const funk_accel_call *c);
typedef int (*funk_accel_exec_op_fn)(const funk_accel_call *c, funk_accel_resource *library,
                                     const char *symbol, const funk_accel_arg *in, size_t n_in,
                                     funk_accel_arg *out, size_t n_out);
typedef int (*funk_accel_sgemm_fn)(const funk_accel_call *c, int m, int n, int k, float alpha,
                                   const float *a, int lda, const float *b, int ldb, float beta,
                                   float *cm, int ldc);
typedef int (*funk_accel_classify_fn)(const funk_accel_call *c, funk_accel_resource *model,
                                      const void *image, size_t image_len, funk_accel_label *out,
                                      size_t max);
typedef int (*funk_accel_detect_fn)(const funk_accel_call *c, funk_accel_resource *model,
                                    const void *image, size_t image_len, uint32_t min_score_pct,
                                    funk_accel_detection *out, size_t max);
/* Generic operations: return -ENOENT for a name the plugin does not know. */
typedef int (*funk_accel_generic_fn)(const funk_accel_call *c, const char *name,
                                     const funk_accel_arg *in, size_t n_in, funk_accel_arg *out,
                                     size_t n_out);

/*
 * Model runs (funk_accel_model_run): the runtime has checked every tensor (dtype known, shape
 * valid, input sizes exact, names bounded), that model is a MODEL resource registered to the
 * session, and n_in, n_out >= 1. Outputs are written only through funk_accel_tensor_output.
 * Return -ENOTSUP for a model format the plugin cannot read, so that the next plugin tries.
 * When an output does not fit (-ENOSPC from funk_accel_tensor_output), still call it for the
 * remaining outputs (so the caller learns every shape), then return -ENOSPC.
 */
typedef int (*funk_accel_model_run_fn)(const funk_accel_call *c, funk_accel_resource *model,
                                       const funk_accel_tensor *in, size_t n_in,
                                       funk_accel_tensor *out, size_t n_out);

/*
 * The descriptor. NULL operation pointers mean "not implemented". An implemented operation
 * may still return -ENOTSUP for a given call (a model format it cannot read, no default
 * model): dispatch then tries the next plugin by priority. init() returning -ENODEV means the
 * plugin's device is absent: it stays listed as unavailable and is never dispatched to.
 * Arguments reach a plugin already checked (non-NULL, sizes > 0, strides consistent).
 * Operations may run concurrently from several threads, also on one session.
 */
typedef struct funk_accel_plugin {
    uint32_t abi_major;  /* FUNK_ACCEL_PLUGIN_ABI_MAJOR: checked first */
    uint32_t abi_minor;
    uint32_t struct_size; /* sizeof(funk_accel_plugin) as the plugin was built */
    int32_t priority;     /* higher wins; cpu 100, opencl 200, cuda 300, rpc 50, noop 0 */
    const char *name;
    const char *version;
    const char *description;

    funk_accel_plugin_init_fn init;
    funk_accel_plugin_fini_fn fini;
    funk_accel_session_open_fn session_open;
    funk_accel_session_close_fn session_close;
    funk_accel_resource_free_fn resource_free;

    funk_accel_noop_fn noop;
    funk_accel_exec_op_fn exec;
    funk_accel_sgemm_fn sgemm;
    funk_accel_classify_fn image_classify;
    funk_accel_detect_fn image_detect;
    funk_accel_generic_fn op;
    /* ABI minor 1 */
    funk_accel_model_run_fn model_run;
} funk_accel_plugin;

#define FUNK_ACCEL_PLUGIN_DEFINE(...)                                                              \
    __attribute__((visibility("default"))) const funk_accel_plugin funk_accel_plugin_descriptor = \
        {.abi_major = FUNK_ACCEL_PLUGIN_ABI_MAJOR,                                                 \
         .abi_minor = FUNK_ACCEL_PLUGIN_ABI_MINOR,                                                 \
         .struct_size = sizeof(funk_accel_plugin),                                                 \
         __VA_ARGS__}

/* ---- Services the runtime offers to plugins ---------------------------------------------- */

funk_accel_resource_type funk_accel_resource_get_type(const funk_accel_resource *r);
/* The resource's bytes (read-only, stable for its lifetime). */
int funk_accel_resource_data(const funk_accel_resource *r, const void **data, size_t *len);
/* A path to the bytes on a filesystem (the original file, or a memfd path such as
 * /proc/self/fd/N for buffer resources) for libraries that only load from paths. For a LIBRARY
 * resource this is funk_accel_resource_library_path's answer (NULL when refused). */
const char *funk_accel_resource_path(const funk_accel_resource *r);
/*
 * The path to dlopen for a LIBRARY resource: the operator-installed library (a file in the exec
 * directory, FUNK_ACCEL_EXEC_DIR, see accel.h) whose bytes were verified to hash to the
 * resource's, as /proc/self/fd/N of the verified file (valid while the resource lives).
 * -EPERM (and a log line) when no installed library has these bytes: code that a guest or an
 * rpc client supplied is never given a loadable path. -EINVAL: not a LIBRARY resource.
 */
int funk_accel_resource_library_path(funk_accel_resource *r, const char **path);
/*
 * Loads the operator-installed library whose bytes hash to `hash` (the rules of
 * funk_accel_resource_library_path: a file in the exec directory, found and verified by
 * content), dlopen(RTLD_NOW | RTLD_LOCAL) of the very file that was hashed; for exec libraries
 * that call into another installed library named by hash (the vAccel adapter). The caller
 * releases *dl with funk_accel_library_close (never dlclose). -EPERM: no installed library has these bytes; -EBADMSG: that file is not a
 * loadable shared object (both logged).
 */
int funk_accel_library_open(const uint8_t hash[FUNK_ACCEL_HASH_SIZE], void **dl);
/* Releases what funk_accel_library_open gave; NULL is ignored. */
void funk_accel_library_close(void *dl);
/*
 * dlsym(dl, name) restricted to what the library itself defines: dlsym also finds the symbols
 * of its dependencies (libc's system, libfunk-accel's functions), and a symbol name arrives from
 * a guest or a client. NULL: not found, or found only in a dependency.
 */
void *funk_accel_library_lookup(void *dl, const char *name);
/*
 * One pointer per (resource, plugin) for what the plugin derives from the resource (a loaded
 * network, a dlopen handle). The runtime serialises calls to this per resource and calls the
 * plugin's resource_free with the pointer when the resource dies.
 * get returns the slot or NULL; set stores a value only if the slot is still empty and returns
 * the value now in the slot (the caller frees its own if it lost the race).
 * c must be the funk_accel_call pointer the operation received (the runtime finds the plugin
 * through it), not a copy.
 */
void *funk_accel_resource_slot_get(funk_accel_resource *r, const funk_accel_call *c);
void *funk_accel_resource_slot_set(funk_accel_resource *r, const funk_accel_call *c, void *v);

/*
 * A plugin's way to produce output tensor t of a model run: sets dtype, rank and shape, checks
 * the element count against the caps, and gives in *data where to write count * dtype size
 * bytes (the caller's buffer, or one the runtime allocates for a library-allocated output).
 * -ENOSPC when the caller's capacity is too small (t->used then says what was needed),
 * -E2BIG / -EINVAL for a shape over the caps or invalid. On success t->used is set.
 */
int funk_accel_tensor_output(funk_accel_tensor *t, uint32_t dtype, uint32_t rank,
                             const int64_t *shape, void **data);

typedef enum funk_accel_log_level {
    FUNK_LOG_ERROR = 0,
    FUNK_LOG_WARN = 1,
    FUNK_LOG_INFO = 2,
    FUNK_LOG_DEBUG = 3,
} funk_accel_log_level;

/* Logs "[component] message" to stderr when level <= FUNK_ACCEL_LOG_LEVEL. */
void funk_accel_log(funk_accel_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int funk_accel_log_enabled(funk_accel_log_level level);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_ACCEL_PLUGIN_H */
