/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel-compatible API (v0.7/v0.8 line) served by funk: libvaccel.so maps every call onto
 * libfunk-accel, so funk's plugins, the rpc transport and the unikernel path run underneath. */
#ifndef FUNK_VACCEL_H
#define FUNK_VACCEL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VACCEL_VERSION "0.7.1-funk"

/* Errors: like vAccel, calls return 0 or a POSITIVE errno value. */
enum {
    VACCEL_OK = 0,
    VACCEL_EINVAL = EINVAL,
    VACCEL_ENOMEM = ENOMEM,
    VACCEL_ENOTSUP = ENOTSUP,
    VACCEL_EINPROGRESS = EINPROGRESS,
    VACCEL_EBUSY = EBUSY,
    VACCEL_EEXIST = EEXIST,
    VACCEL_ENOENT = ENOENT,
    VACCEL_ELIBBAD = ELIBBAD,
    VACCEL_ENODEV = ENODEV,
    VACCEL_EIO = EIO,
    VACCEL_ESESS = ECONNRESET,
    VACCEL_EBACKEND = EPROTO,
    VACCEL_ENOEXEC = ENOEXEC,
    VACCEL_ENAMETOOLONG = ENAMETOOLONG,
    VACCEL_EUSERS = EUSERS,
    VACCEL_EPERM = EPERM,
    VACCEL_ELOOP = ELOOP,
    VACCEL_EMLINK = EMLINK,
    VACCEL_ENOSPC = ENOSPC,
    VACCEL_ENOTDIR = ENOTDIR,
    VACCEL_EROFS = EROFS,
    VACCEL_EACCES = EACCES,
    VACCEL_EBADF = EBADF,
    VACCEL_EREMOTEIO = EREMOTEIO,
    VACCEL_EFAULT = EFAULT,
    VACCEL_ERANGE = ERANGE,
    VACCEL_EAGAIN = EAGAIN,
    VACCEL_ENOSYS = ENOSYS,
};

typedef int64_t vaccel_id_t;

/* ---- enums (values pinned to vAccel's) --------------------------------------------------- */

typedef enum {
    VACCEL_LOG_ERROR = 1,
    VACCEL_LOG_WARN,
    VACCEL_LOG_INFO,
    VACCEL_LOG_DEBUG,
    VACCEL_LOG_MAX
} vaccel_log_level_t;

typedef enum {
    VACCEL_PLUGIN_CPU = 0x0001,
    VACCEL_PLUGIN_GPU = 0x0002,
    VACCEL_PLUGIN_FPGA = 0x0004,
    VACCEL_PLUGIN_SOFTWARE = 0x0008,
    VACCEL_PLUGIN_TENSORFLOW = 0x0010,
    VACCEL_PLUGIN_TORCH = 0x0020,
    VACCEL_PLUGIN_JETSON = 0x0040,
    VACCEL_PLUGIN_GENERIC = 0x0080,
    VACCEL_PLUGIN_DEBUG = 0x0100,
    VACCEL_PLUGIN_REMOTE = 0x4000,
    VACCEL_PLUGIN_ALL = 0xffff,
    VACCEL_PLUGIN_MAX
} vaccel_plugin_type_t;

typedef enum {
    VACCEL_OP_NOOP = 0,
    VACCEL_OP_EXEC,
    VACCEL_OP_EXEC_WITH_RESOURCE,
    VACCEL_OP_IMAGE_CLASSIFY,
    VACCEL_OP_IMAGE_DETECT,
    VACCEL_OP_IMAGE_SEGMENT,
    VACCEL_OP_IMAGE_POSE,
    VACCEL_OP_IMAGE_DEPTH,
    VACCEL_OP_TF_MODEL_LOAD,
    VACCEL_OP_TF_MODEL_UNLOAD,
    VACCEL_OP_TF_MODEL_RUN,
    VACCEL_OP_TFLITE_MODEL_LOAD,
    VACCEL_OP_TFLITE_MODEL_UNLOAD,
    VACCEL_OP_TFLITE_MODEL_RUN,
    VACCEL_OP_TORCH_MODEL_LOAD,
    VACCEL_OP_TORCH_MODEL_RUN,
    VACCEL_OP_TORCH_SGEMM,
    VACCEL_OP_BLAS_SGEMM,
    VACCEL_OP_FPGA_ARRAYCOPY,
    VACCEL_OP_FPGA_MMULT,
    VACCEL_OP_FPGA_PARALLEL,
    VACCEL_OP_FPGA_VECTORADD,
    VACCEL_OP_MINMAX,
    VACCEL_OP_OPENCV,
    VACCEL_OP_MAX
} vaccel_op_type_t;
const char *vaccel_op_type_to_str(vaccel_op_type_t op_type);

typedef enum {
    VACCEL_ARG_RAW = 0,
    VACCEL_ARG_INT8,
    VACCEL_ARG_INT8_ARRAY,
    VACCEL_ARG_INT16,
    VACCEL_ARG_INT16_ARRAY,
    VACCEL_ARG_INT32,
    VACCEL_ARG_INT32_ARRAY,
    VACCEL_ARG_INT64,
    VACCEL_ARG_INT64_ARRAY,
    VACCEL_ARG_UINT8,
    VACCEL_ARG_UINT8_ARRAY,
    VACCEL_ARG_UINT16,
    VACCEL_ARG_UINT16_ARRAY,
    VACCEL_ARG_UINT32,
    VACCEL_ARG_UINT32_ARRAY,
    VACCEL_ARG_UINT64,
    VACCEL_ARG_UINT64_ARRAY,
    VACCEL_ARG_FLOAT32,
    VACCEL_ARG_FLOAT32_ARRAY,
    VACCEL_ARG_FLOAT64,
    VACCEL_ARG_FLOAT64_ARRAY,
    VACCEL_ARG_BOOL,
    VACCEL_ARG_BOOL_ARRAY,
    VACCEL_ARG_CHAR,
    VACCEL_ARG_CHAR_ARRAY,
    VACCEL_ARG_UCHAR,
    VACCEL_ARG_UCHAR_ARRAY,
    VACCEL_ARG_STRING,
    VACCEL_ARG_BUFFER,
    VACCEL_ARG_CUSTOM,
    VACCEL_ARG_MAX
} vaccel_arg_type_t;

typedef enum {
    VACCEL_RESOURCE_LIB = 0,
    VACCEL_RESOURCE_DATA,
    VACCEL_RESOURCE_MODEL,
    VACCEL_RESOURCE_MAX
} vaccel_resource_type_t;

typedef enum {
    VACCEL_PATH_LOCAL_FILE = 0,
    VACCEL_PATH_LOCAL_DIR,
    VACCEL_PATH_REMOTE_FILE,
    VACCEL_PATH_MAX
} vaccel_path_type_t;

/* ---- logging: vAccel's macros, through funk's leveled log ("[app] ...", FUNK_ACCEL_LOG_LEVEL) --
 */

void vaccel_funk_log(vaccel_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define vaccel_error(...) vaccel_funk_log(VACCEL_LOG_ERROR, __VA_ARGS__)
#define vaccel_fatal(...) vaccel_funk_log(VACCEL_LOG_ERROR, __VA_ARGS__)
#define vaccel_warn(...) vaccel_funk_log(VACCEL_LOG_WARN, __VA_ARGS__)
#define vaccel_info(...) vaccel_funk_log(VACCEL_LOG_INFO, __VA_ARGS__)
#define vaccel_debug(...) vaccel_funk_log(VACCEL_LOG_DEBUG, __VA_ARGS__)
#define vaccel_trace(...) vaccel_funk_log(VACCEL_LOG_DEBUG, __VA_ARGS__)
int vaccel_log_init(void);
int vaccel_log_shutdown(void);

/* ---- core ---------------------------------------------------------------------------------- */

struct vaccel_config {
    char *plugins; /* vAccel plugin names/paths, ':'-separated (mapped to funk's) */
    vaccel_log_level_t log_level;
    char *log_file; /* accepted; funk logs to stderr */
    bool profiling_enabled;
    bool version_ignore;
};

int vaccel_config_init(struct vaccel_config *config, const char *plugins,
                       vaccel_log_level_t log_level, const char *log_file, bool profiling_enabled,
                       bool version_ignore);
int vaccel_config_init_from_env(struct vaccel_config *config);
int vaccel_config_release(struct vaccel_config *config);

/* Explicit set-up; otherwise the first session initialises from the environment. */
int vaccel_bootstrap(void);
int vaccel_bootstrap_with_config(struct vaccel_config *config);
int vaccel_cleanup(void);
bool vaccel_is_initialized(void);
const struct vaccel_config *vaccel_config(void);

/* ---- args ----------------------------------------------------------------------------------- */

struct vaccel_arg {
    void *buf;
    size_t size;
    vaccel_arg_type_t type;
    uint32_t custom_type_id;
    bool owned; /* buf was allocated by the API */
};

int vaccel_arg_init(struct vaccel_arg *arg, const void *buf, size_t size, vaccel_arg_type_t type,
                    uint32_t custom_id);
int vaccel_arg_init_from_buf(struct vaccel_arg *arg, void *buf, size_t size, vaccel_arg_type_t type,
                             uint32_t custom_id);
int vaccel_arg_release(struct vaccel_arg *arg);
int vaccel_arg_new(struct vaccel_arg **arg, const void *buf, size_t size, vaccel_arg_type_t type,
                   uint32_t custom_id);
int vaccel_arg_from_buf(struct vaccel_arg **arg, void *buf, size_t size, vaccel_arg_type_t type,
                        uint32_t custom_id);
int vaccel_arg_delete(struct vaccel_arg *arg);

struct vaccel_arg_array {
    struct vaccel_arg *args;
    size_t count;    /* args added */
    size_t capacity; /* slots allocated */
    size_t position; /* next arg for get/set */
    bool owned;      /* args was allocated by the API */
};

typedef bool (*vaccel_arg_type_validator_fn)(const void *buf, size_t size, uint32_t custom_id);
typedef int (*vaccel_arg_serializer_fn)(const void *data, size_t data_size, uint32_t custom_id,
                                        void **buf, size_t *size);
typedef int (*vaccel_arg_deserializer_fn)(const void *buf, size_t size, uint32_t custom_id,
                                          size_t data_size, void *data);

int vaccel_arg_array_init(struct vaccel_arg_array *array, size_t initial_capacity);
int vaccel_arg_array_release(struct vaccel_arg_array *array);
int vaccel_arg_array_new(struct vaccel_arg_array **array, size_t initial_capacity);
int vaccel_arg_array_delete(struct vaccel_arg_array *array);
int vaccel_arg_array_wrap(struct vaccel_arg_array *array, struct vaccel_arg *args, size_t count);
void vaccel_arg_array_clear(struct vaccel_arg_array *array);

/* The typed accessors: add_T/add_T_array point at the caller's memory (no copy); get_T copies the
 * next arg's value out, get_T_array hands out a pointer to it; set_T writes into the next arg. */
#define VACCEL_ARG_NUMERIC_TYPES(X)                                                                \
    X(int8, int8_t, VACCEL_ARG_INT8, VACCEL_ARG_INT8_ARRAY)                                        \
    X(int16, int16_t, VACCEL_ARG_INT16, VACCEL_ARG_INT16_ARRAY)                                    \
    X(int32, int32_t, VACCEL_ARG_INT32, VACCEL_ARG_INT32_ARRAY)                                    \
    X(int64, int64_t, VACCEL_ARG_INT64, VACCEL_ARG_INT64_ARRAY)                                    \
    X(uint8, uint8_t, VACCEL_ARG_UINT8, VACCEL_ARG_UINT8_ARRAY)                                    \
    X(uint16, uint16_t, VACCEL_ARG_UINT16, VACCEL_ARG_UINT16_ARRAY)                                \
    X(uint32, uint32_t, VACCEL_ARG_UINT32, VACCEL_ARG_UINT32_ARRAY)                                \
    X(uint64, uint64_t, VACCEL_ARG_UINT64, VACCEL_ARG_UINT64_ARRAY)                                \
    X(float, float, VACCEL_ARG_FLOAT32, VACCEL_ARG_FLOAT32_ARRAY)                                  \
    X(double, double, VACCEL_ARG_FLOAT64, VACCEL_ARG_FLOAT64_ARRAY)                                \
    X(bool, bool, VACCEL_ARG_BOOL, VACCEL_ARG_BOOL_ARRAY)                                          \
    X(char, char, VACCEL_ARG_CHAR, VACCEL_ARG_CHAR_ARRAY)                                          \
    X(uchar, unsigned char, VACCEL_ARG_UCHAR, VACCEL_ARG_UCHAR_ARRAY)

#define VACCEL_FUNK_DECLARE_ARG_FUNCS(NAME, CT, T, TA)                                             \
    int vaccel_arg_array_add_##NAME(struct vaccel_arg_array *array, CT *value);                    \
    int vaccel_arg_array_add_##NAME##_array(struct vaccel_arg_array *array, CT *values,            \
                                            size_t count);                                         \
    int vaccel_arg_array_get_##NAME(struct vaccel_arg_array *array, CT *value);                    \
    int vaccel_arg_array_get_##NAME##_array(struct vaccel_arg_array *array, CT **values,           \
                                            size_t *count);                                        \
    int vaccel_arg_array_set_##NAME(struct vaccel_arg_array *array, CT *value);                    \
    int vaccel_arg_array_set_##NAME##_array(struct vaccel_arg_array *array, CT *values,            \
                                            size_t count);
VACCEL_ARG_NUMERIC_TYPES(VACCEL_FUNK_DECLARE_ARG_FUNCS)
#undef VACCEL_FUNK_DECLARE_ARG_FUNCS

int vaccel_arg_array_add_raw(struct vaccel_arg_array *array, void *buf, size_t size);
int vaccel_arg_array_add_string(struct vaccel_arg_array *array, char *str);
int vaccel_arg_array_add_buffer(struct vaccel_arg_array *array, void *buf, size_t size);
int vaccel_arg_array_add_custom(struct vaccel_arg_array *array, uint32_t custom_id, void *buf,
                                size_t size, vaccel_arg_type_validator_fn validator);
int vaccel_arg_array_add_serialized(struct vaccel_arg_array *array, vaccel_arg_type_t type,
                                    uint32_t custom_id, const void *data, size_t data_size,
                                    vaccel_arg_serializer_fn serializer);
int vaccel_arg_array_get_raw(struct vaccel_arg_array *array, void **buf, size_t *size);
int vaccel_arg_array_get_string(struct vaccel_arg_array *array, char **str);
int vaccel_arg_array_get_buffer(struct vaccel_arg_array *array, void **buf, size_t *size);
int vaccel_arg_array_get_custom(struct vaccel_arg_array *array, uint32_t expected_id, void **buf,
                                size_t *size, vaccel_arg_type_validator_fn validator);
int vaccel_arg_array_get_serialized(struct vaccel_arg_array *array, vaccel_arg_type_t expected_type,
                                    uint32_t expected_custom_id, void *data, size_t expected_size,
                                    vaccel_arg_deserializer_fn deserializer);
int vaccel_arg_array_set_raw(struct vaccel_arg_array *array, void *buf, size_t size);
int vaccel_arg_array_set_string(struct vaccel_arg_array *array, char *str);
int vaccel_arg_array_set_buffer(struct vaccel_arg_array *array, void *buf, size_t size);
int vaccel_arg_array_set_serialized(struct vaccel_arg_array *array, vaccel_arg_type_t expected_type,
                                    uint32_t expected_custom_id, void *data, size_t data_size,
                                    vaccel_arg_serializer_fn serializer);
int vaccel_arg_array_get_remaining(struct vaccel_arg_array *array, struct vaccel_arg **args,
                                   size_t *count);
size_t vaccel_arg_array_remaining_count(const struct vaccel_arg_array *array);
size_t vaccel_arg_array_position(const struct vaccel_arg_array *array);
void vaccel_arg_array_set_position(struct vaccel_arg_array *array, size_t position);
void vaccel_arg_array_reset_position(struct vaccel_arg_array *array);
size_t vaccel_arg_array_count(const struct vaccel_arg_array *array);
struct vaccel_arg *vaccel_arg_array_raw(struct vaccel_arg_array *array);

/* ---- resources ------------------------------------------------------------------------------ */

struct vaccel_resource {
    vaccel_id_t id;        /* > 0 while initialised */
    vaccel_id_t remote_id; /* always -1: funk's transports keep their own handles */
    vaccel_resource_type_t type;
    vaccel_path_type_t path_type;
    char **paths;
    size_t nr_paths;
    char *rundir; /* always NULL: funk keeps buffers in memory */
    void *priv;   /* funk state */
};

int vaccel_resource_init(struct vaccel_resource *res, const char *path,
                         vaccel_resource_type_t type);
int vaccel_resource_init_multi(struct vaccel_resource *res, const char **paths, size_t nr_paths,
                               vaccel_resource_type_t type);
int vaccel_resource_init_from_buf(struct vaccel_resource *res, const void *buf, size_t nr_bytes,
                                  vaccel_resource_type_t type, const char *filename, bool mem_only);
int vaccel_resource_release(struct vaccel_resource *res);
int vaccel_resource_new(struct vaccel_resource **res, const char *path,
                        vaccel_resource_type_t type);
int vaccel_resource_multi_new(struct vaccel_resource **res, const char **paths, size_t nr_paths,
                              vaccel_resource_type_t type);
int vaccel_resource_from_buf(struct vaccel_resource **res, const void *buf, size_t nr_bytes,
                             vaccel_resource_type_t type, const char *filename, bool mem_only);
int vaccel_resource_delete(struct vaccel_resource *res);
int vaccel_resource_get_by_id(struct vaccel_resource **res, vaccel_id_t id);
long int vaccel_resource_refcount(const struct vaccel_resource *res);

struct vaccel_session;
int vaccel_resource_register(struct vaccel_resource *res, struct vaccel_session *sess);
int vaccel_resource_unregister(struct vaccel_resource *res, struct vaccel_session *sess);
int vaccel_resource_sync(struct vaccel_resource *res, struct vaccel_session *sess);

/* ---- sessions ------------------------------------------------------------------------------- */

struct vaccel_session {
    vaccel_id_t id;        /* > 0 while initialised */
    vaccel_id_t remote_id; /* always -1 */
    unsigned int hint;     /* accepted; funk picks plugins per operation */
    bool is_virtio;        /* true when funk forwards (rpc plugin loaded) */
    void *priv;            /* funk state */
};

int vaccel_session_init(struct vaccel_session *sess, uint32_t flags);
int vaccel_session_release(struct vaccel_session *sess);
int vaccel_session_new(struct vaccel_session **sess, uint32_t flags);
int vaccel_session_delete(struct vaccel_session *sess);
int vaccel_session_update(struct vaccel_session *sess, uint32_t flags);
bool vaccel_session_has_resource(struct vaccel_session *sess, struct vaccel_resource *res);
/* v0.5/v0.6 names */
int vaccel_sess_init(struct vaccel_session *sess, uint32_t flags);
int vaccel_sess_free(struct vaccel_session *sess);
int vaccel_sess_update(struct vaccel_session *sess, uint32_t flags);
bool vaccel_sess_has_resource(struct vaccel_session *sess, struct vaccel_resource *res);

/* ---- operations ----------------------------------------------------------------------------- */

int vaccel_noop(struct vaccel_session *sess);

int vaccel_sgemm(struct vaccel_session *sess, int64_t m, int64_t n, int64_t k, float alpha,
                 float *a, int64_t lda, float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* The library must be a file of the operator's exec directory (see docs/vaccel.md). */
int vaccel_exec(struct vaccel_session *sess, const char *library, const char *fn_symbol,
                struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write, size_t nr_write);
int vaccel_exec_with_resource(struct vaccel_session *sess, struct vaccel_resource *resource,
                              const char *fn_symbol, struct vaccel_arg *read, size_t nr_read,
                              struct vaccel_arg *write, size_t nr_write);

/* read[0] is a UINT8 vaccel_op_type_t; the rest are the operation's arguments. */
int vaccel_genop(struct vaccel_session *sess, struct vaccel_arg *read, int nr_read,
                 struct vaccel_arg *write, int nr_write);

int vaccel_image_classification(struct vaccel_session *sess, const void *img,
                                unsigned char *out_text, unsigned char *out_imgname, size_t len_img,
                                size_t len_out_text, size_t len_out_imgname);
int vaccel_image_detection(struct vaccel_session *sess, const void *img, unsigned char *out_imgname,
                           size_t len_img, size_t len_out_imgname);
int vaccel_image_segmentation(struct vaccel_session *sess, const void *img,
                              unsigned char *out_imgname, size_t len_img, size_t len_out_imgname);
int vaccel_image_pose(struct vaccel_session *sess, const void *img, unsigned char *out_imgname,
                      size_t len_img, size_t len_out_imgname);
int vaccel_image_depth(struct vaccel_session *sess, const void *img, unsigned char *out_imgname,
                       size_t len_img, size_t len_out_imgname);

/* ---- TensorFlow / TF Lite / Torch: the types, and VACCEL_ENOTSUP from every model op ----------
 */

enum vaccel_tf_data_type {
    VACCEL_TF_FLOAT = 1,
    VACCEL_TF_DOUBLE = 2,
    VACCEL_TF_INT32 = 3,
    VACCEL_TF_UINT8 = 4,
    VACCEL_TF_INT16 = 5,
    VACCEL_TF_INT8 = 6,
    VACCEL_TF_STRING = 7,
    VACCEL_TF_COMPLEX64 = 8,
    VACCEL_TF_COMPLEX = 8,
    VACCEL_TF_INT64 = 9,
    VACCEL_TF_BOOL = 10,
    VACCEL_TF_QINT8 = 11,
    VACCEL_TF_QUINT8 = 12,
    VACCEL_TF_QINT32 = 13,
    VACCEL_TF_BFLOAT16 = 14,
    VACCEL_TF_QINT16 = 15,
    VACCEL_TF_QUINT16 = 16,
    VACCEL_TF_UINT16 = 17,
    VACCEL_TF_COMPLEX128 = 18,
    VACCEL_TF_HALF = 19,
    VACCEL_TF_RESOURCE = 20,
    VACCEL_TF_VARIANT = 21,
    VACCEL_TF_UINT32 = 22,
    VACCEL_TF_UINT64 = 23,
};
struct vaccel_tf_buffer {
    void *data;
    size_t size;
};
struct vaccel_tf_node {
    char *name;
    int id;
};
struct vaccel_tf_tensor {
    void *data;
    size_t size;
    bool owned;
    int nr_dims;
    int64_t *dims;
    enum vaccel_tf_data_type data_type;
};
struct vaccel_tf_status {
    uint8_t code;
    char *message;
};

int vaccel_tf_buffer_init(struct vaccel_tf_buffer *buffer, void *data, size_t size);
int vaccel_tf_buffer_release(struct vaccel_tf_buffer *buffer);
int vaccel_tf_node_init(struct vaccel_tf_node *node, const char *name, int id);
int vaccel_tf_node_release(struct vaccel_tf_node *node);
int vaccel_tf_tensor_init(struct vaccel_tf_tensor *tensor, int nr_dims, const int64_t *dims,
                          enum vaccel_tf_data_type type);
int vaccel_tf_tensor_new(struct vaccel_tf_tensor **tensor, int nr_dims, const int64_t *dims,
                         enum vaccel_tf_data_type type);
int vaccel_tf_tensor_release(struct vaccel_tf_tensor *tensor);
int vaccel_tf_tensor_delete(struct vaccel_tf_tensor *tensor);
int vaccel_tf_tensor_set_data(struct vaccel_tf_tensor *tensor, void *data, size_t size);
int vaccel_tf_status_init(struct vaccel_tf_status *status, uint8_t code, const char *message);
int vaccel_tf_status_release(struct vaccel_tf_status *status);
int vaccel_tf_model_load(struct vaccel_session *sess, struct vaccel_resource *model,
                         struct vaccel_tf_status *status);
int vaccel_tf_model_run(struct vaccel_session *sess, struct vaccel_resource *model,
                        const struct vaccel_tf_buffer *run_options,
                        const struct vaccel_tf_node *in_nodes,
                        struct vaccel_tf_tensor *const *in_tensors, int nr_inputs,
                        const struct vaccel_tf_node *out_nodes,
                        struct vaccel_tf_tensor **out_tensors, int nr_outputs,
                        struct vaccel_tf_status *status);
int vaccel_tf_model_unload(struct vaccel_session *sess, struct vaccel_resource *model,
                           struct vaccel_tf_status *status);

enum vaccel_tflite_data_type {
    VACCEL_TFLITE_NOTYPE = 0,
    VACCEL_TFLITE_FLOAT32 = 1,
    VACCEL_TFLITE_INT32 = 2,
    VACCEL_TFLITE_UINT8 = 3,
    VACCEL_TFLITE_INT64 = 4,
    VACCEL_TFLITE_STRING = 5,
    VACCEL_TFLITE_BOOL = 6,
    VACCEL_TFLITE_INT16 = 7,
    VACCEL_TFLITE_COMPLEX64 = 8,
    VACCEL_TFLITE_INT8 = 9,
    VACCEL_TFLITE_FLOAT16 = 10,
    VACCEL_TFLITE_FLOAT64 = 11,
    VACCEL_TFLITE_COMPLEX128 = 12,
    VACCEL_TFLITE_UINT64 = 13,
    VACCEL_TFLITE_RESOURCE = 14,
    VACCEL_TFLITE_VARIANT = 15,
    VACCEL_TFLITE_UINT32 = 16,
    VACCEL_TFLITE_UINT16 = 17,
    VACCEL_TFLITE_INT4 = 18,
};
struct vaccel_tflite_tensor {
    void *data;
    size_t size;
    bool owned;
    int nr_dims;
    int32_t *dims;
    enum vaccel_tflite_data_type data_type;
};
int vaccel_tflite_tensor_new(struct vaccel_tflite_tensor **tensor, int nr_dims, const int32_t *dims,
                             enum vaccel_tflite_data_type type);
int vaccel_tflite_tensor_delete(struct vaccel_tflite_tensor *tensor);
int vaccel_tflite_tensor_set_data(struct vaccel_tflite_tensor *tensor, void *data, size_t size);
int vaccel_tflite_model_load(struct vaccel_session *sess, struct vaccel_resource *model);
int vaccel_tflite_model_run(struct vaccel_session *sess, struct vaccel_resource *model,
                            struct vaccel_tflite_tensor *const *inputs, int nr_inputs,
                            struct vaccel_tflite_tensor **outputs, int nr_outputs, uint8_t *status);
int vaccel_tflite_model_unload(struct vaccel_session *sess, struct vaccel_resource *model);

enum vaccel_torch_data_type {
    VACCEL_TORCH_BYTE = 1,
    VACCEL_TORCH_CHAR = 2,
    VACCEL_TORCH_SHORT = 3,
    VACCEL_TORCH_INT = 4,
    VACCEL_TORCH_LONG = 5,
    VACCEL_TORCH_HALF = 6,
    VACCEL_TORCH_FLOAT = 7
};
struct vaccel_torch_buffer {
    char *data;
    size_t size;
};
struct vaccel_torch_tensor {
    void *data;
    size_t size;
    bool owned;
    int64_t nr_dims;
    int64_t *dims;
    enum vaccel_torch_data_type data_type;
};
int vaccel_torch_buffer_init(struct vaccel_torch_buffer *buffer, char *data, size_t size);
int vaccel_torch_buffer_release(struct vaccel_torch_buffer *buffer);
int vaccel_torch_tensor_new(struct vaccel_torch_tensor **tensor, int64_t nr_dims,
                            const int64_t *dims, enum vaccel_torch_data_type type);
int vaccel_torch_tensor_delete(struct vaccel_torch_tensor *tensor);
int vaccel_torch_tensor_set_data(struct vaccel_torch_tensor *tensor, void *data, size_t size);
int vaccel_torch_model_load(struct vaccel_session *sess, struct vaccel_resource *model);
int vaccel_torch_model_run(struct vaccel_session *sess, struct vaccel_resource *model,
                           const struct vaccel_torch_buffer *run_options,
                           struct vaccel_torch_tensor *const *inputs, int nr_inputs,
                           struct vaccel_torch_tensor **outputs, int nr_outputs);

/* ---- profiling ------------------------------------------------------------------------------ */

struct vaccel_prof_sample {
    uint64_t start; /* ns, CLOCK_MONOTONIC, at region start */
    uint64_t time;  /* ns spent inside */
};

struct vaccel_prof_region {
    const char *name;
    bool name_owned;
    size_t nr_entries;
    struct vaccel_prof_sample *samples;
    size_t size;
};

#define VACCEL_PROF_REGION_INIT(name)                                                              \
    {                                                                                              \
        (name), false, 0, NULL, 0                                                                  \
    }

/* Regions record and print only when profiling is on (VACCEL_PROFILING_ENABLED=1 or the config). */
bool vaccel_prof_enabled(void);
int vaccel_prof_region_init(struct vaccel_prof_region *region, const char *name);
int vaccel_prof_region_start(struct vaccel_prof_region *region);
int vaccel_prof_region_stop(const struct vaccel_prof_region *region);
int vaccel_prof_region_print(const struct vaccel_prof_region *region);
int vaccel_prof_region_release(struct vaccel_prof_region *region);
int vaccel_prof_regions_init(struct vaccel_prof_region *regions, int nregions);
int vaccel_prof_regions_start_by_name(struct vaccel_prof_region *regions, int nregions,
                                      const char *name);
int vaccel_prof_regions_stop_by_name(struct vaccel_prof_region *regions, int nregions,
                                     const char *name);
int vaccel_prof_regions_print_all(struct vaccel_prof_region *regions, int nregions);
int vaccel_prof_regions_release(struct vaccel_prof_region *regions, int nregions);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_VACCEL_H */
