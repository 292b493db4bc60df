/* SPDX-License-Identifier: Apache-2.0 */
/* vaccel_genop (read[0] = op type, the operation's arguments follow, as vAccel packs them) and
 * the TensorFlow and TF Lite entry points, which answer VACCEL_ENOTSUP: no funk backend (Debian
 * packages neither framework). Torch runs on funk's torch plugin: torch.c. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int genop_exec(struct vaccel_session *sess, struct vaccel_arg_array *r,
                      struct vaccel_arg *write, int nr_write, bool with_resource)
{
    char *symbol;
    char *library = NULL;
    int64_t res_id = 0;
    int rc = with_resource ? vaccel_arg_array_get_int64(r, &res_id)
                           : vaccel_arg_array_get_string(r, &library);
    if (rc || vaccel_arg_array_get_string(r, &symbol))
        return VACCEL_EINVAL;
    struct vaccel_arg *rest;
    size_t n_rest;
    vaccel_arg_array_get_remaining(r, &rest, &n_rest);
    if (!with_resource)
        return vaccel_exec(sess, library, symbol, rest, n_rest, write, (size_t)nr_write);
    struct vaccel_resource *res;
    if ((rc = vaccel_resource_get_by_id(&res, res_id)) != VACCEL_OK)
        return rc;
    return vaccel_exec_with_resource(sess, res, symbol, rest, n_rest, write, (size_t)nr_write);
}

static int genop_image(struct vaccel_session *sess, vaccel_op_type_t op, struct vaccel_arg_array *r,
                       struct vaccel_arg_array *w)
{
    void *img;
    size_t len_img;
    unsigned char *name, *text = NULL;
    size_t len_name, len_text = 0;
    if (vaccel_arg_array_get_buffer(r, &img, &len_img) ||
        vaccel_arg_array_get_uchar_array(w, &name, &len_name))
        return VACCEL_EINVAL;
    if (op == VACCEL_OP_IMAGE_CLASSIFY && vaccel_arg_array_get_uchar_array(w, &text, &len_text))
        return VACCEL_EINVAL;
    switch (op) {
    case VACCEL_OP_IMAGE_CLASSIFY:
        return vaccel_image_classification(sess, img, text, name, len_img, len_text, len_name);
    case VACCEL_OP_IMAGE_DETECT:
        return vaccel_image_detection(sess, img, name, len_img, len_name);
    case VACCEL_OP_IMAGE_SEGMENT:
        return vaccel_image_segmentation(sess, img, name, len_img, len_name);
    case VACCEL_OP_IMAGE_POSE:
        return vaccel_image_pose(sess, img, name, len_img, len_name);
    default:
        return vaccel_image_depth(sess, img, name, len_img, len_name);
    }
}

static int genop_sgemm(struct vaccel_session *sess, struct vaccel_arg_array *r,
                       struct vaccel_arg_array *w)
{
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta, *a, *b, *c;
    size_t na, nb, nc;
    if (vaccel_arg_array_count(r) != 11 || vaccel_arg_array_count(w) != 1 ||
        vaccel_arg_array_get_int64(r, &m) || vaccel_arg_array_get_int64(r, &n) ||
        vaccel_arg_array_get_int64(r, &k) || vaccel_arg_array_get_float(r, &alpha) ||
        vaccel_arg_array_get_float_array(r, &a, &na) || vaccel_arg_array_get_int64(r, &lda) ||
        vaccel_arg_array_get_float_array(r, &b, &nb) || vaccel_arg_array_get_int64(r, &ldb) ||
        vaccel_arg_array_get_float(r, &beta) || vaccel_arg_array_get_int64(r, &ldc) ||
        vaccel_arg_array_get_float_array(w, &c, &nc))
        return VACCEL_EINVAL;
    /* the arrays must hold what the dimensions say (row-major, leading dimensions) */
    if (m <= 0 || n <= 0 || k <= 0 || lda < k || ldb < n || ldc < n ||
        (uint64_t)(m - 1) * (uint64_t)lda + (uint64_t)k > na ||
        (uint64_t)(k - 1) * (uint64_t)ldb + (uint64_t)n > nb ||
        (uint64_t)(m - 1) * (uint64_t)ldc + (uint64_t)n > nc)
        return VACCEL_EINVAL;
    return vaccel_sgemm(sess, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

EXPORT int vaccel_genop(struct vaccel_session *sess, struct vaccel_arg *read, int nr_read,
                        struct vaccel_arg *write, int nr_write)
{
    if (sess == NULL || read == NULL || nr_read < 1 || nr_write < 0 ||
        (nr_write > 0 && write == NULL))
        return VACCEL_EINVAL;
    struct vaccel_arg_array r, w;
    vaccel_arg_array_wrap(&r, read, (size_t)nr_read);
    vaccel_arg_array_wrap(&w, write, (size_t)nr_write);
    uint8_t op;
    if (vaccel_arg_array_get_uint8(&r, &op) || op >= VACCEL_OP_MAX)
        return VACCEL_EINVAL;
    switch ((vaccel_op_type_t)op) {
    case VACCEL_OP_NOOP:
        return vaccel_noop(sess);
    case VACCEL_OP_EXEC:
        return genop_exec(sess, &r, write, nr_write, false);
    case VACCEL_OP_EXEC_WITH_RESOURCE:
        return genop_exec(sess, &r, write, nr_write, true);
    case VACCEL_OP_IMAGE_CLASSIFY:
    case VACCEL_OP_IMAGE_DETECT:
    case VACCEL_OP_IMAGE_SEGMENT:
    case VACCEL_OP_IMAGE_POSE:
    case VACCEL_OP_IMAGE_DEPTH:
        return genop_image(sess, (vaccel_op_type_t)op, &r, &w);
    case VACCEL_OP_BLAS_SGEMM:
        return genop_sgemm(sess, &r, &w);
    default: /* TF/TF Lite/Torch, FPGA, minmax, OpenCV: no funk plugin offers these */
        funk_accel_log(FUNK_LOG_INFO, "vaccel", "genop %s: no funk plugin offers it",
                       vaccel_op_type_to_str((vaccel_op_type_t)op));
        return VACCEL_ENOTSUP;
    }
}

EXPORT const char *vaccel_op_type_to_str(vaccel_op_type_t op_type)
{
    static const char *const names[VACCEL_OP_MAX] = {"VACCEL_OP_NOOP",
                                                     "VACCEL_OP_EXEC",
                                                     "VACCEL_OP_EXEC_WITH_RESOURCE",
                                                     "VACCEL_OP_IMAGE_CLASSIFY",
                                                     "VACCEL_OP_IMAGE_DETECT",
                                                     "VACCEL_OP_IMAGE_SEGMENT",
                                                     "VACCEL_OP_IMAGE_POSE",
                                                     "VACCEL_OP_IMAGE_DEPTH",
                                                     "VACCEL_OP_TF_MODEL_LOAD",
                                                     "VACCEL_OP_TF_MODEL_UNLOAD",
                                                     "VACCEL_OP_TF_MODEL_RUN",
                                                     "VACCEL_OP_TFLITE_MODEL_LOAD",
                                                     "VACCEL_OP_TFLITE_MODEL_UNLOAD",
                                                     "VACCEL_OP_TFLITE_MODEL_RUN",
                                                     "VACCEL_OP_TORCH_MODEL_LOAD",
                                                     "VACCEL_OP_TORCH_MODEL_RUN",
                                                     "VACCEL_OP_TORCH_SGEMM",
                                                     "VACCEL_OP_BLAS_SGEMM",
                                                     "VACCEL_OP_FPGA_ARRAYCOPY",
                                                     "VACCEL_OP_FPGA_MMULT",
                                                     "VACCEL_OP_FPGA_PARALLEL",
                                                     "VACCEL_OP_FPGA_VECTORADD",
                                                     "VACCEL_OP_MINMAX",
                                                     "VACCEL_OP_OPENCV"};
    return (unsigned)op_type < VACCEL_OP_MAX ? names[op_type] : "VACCEL_OP_MAX";
}

/* ---- tensor containers (plain data) and model operations (ENOTSUP) ----------------------------
 */

static int dims_copy(void **out, const void *dims, size_t n, size_t elem)
{
    *out = NULL;
    if (n == 0)
        return VACCEL_OK;
    if (dims == NULL || n > SIZE_MAX / elem)
        return VACCEL_EINVAL;
    if ((*out = malloc(n * elem)) == NULL)
        return VACCEL_ENOMEM;
    memcpy(*out, dims, n * elem);
    return VACCEL_OK;
}

/* The three frameworks' tensors share data/size/owned and a dims array the library copied:
 * these are the common parts of their functions. */
static void tensor_data_set(void **data, size_t *size, bool *owned, void *new_data, size_t new_size)
{
    if (*owned)
        free(*data);
    *data = new_data;
    *size = new_size;
    *owned = false;
}

/* A tensor struct of `size` bytes (filled in by the caller) and a copy of its dims. */
static int tensor_alloc(size_t size, const void *dims, size_t nr_dims, size_t elem, void **t,
                        void **d)
{
    if ((*t = malloc(size)) == NULL)
        return VACCEL_ENOMEM;
    int rc = dims_copy(d, dims, nr_dims, elem);
    if (rc) {
        free(*t);
        *t = NULL;
    }
    return rc;
}

EXPORT int vaccel_tf_buffer_init(struct vaccel_tf_buffer *buffer, void *data, size_t size)
{
    if (buffer == NULL)
        return VACCEL_EINVAL;
    *buffer = (struct vaccel_tf_buffer){data, size};
    return VACCEL_OK;
}
EXPORT int vaccel_tf_buffer_release(struct vaccel_tf_buffer *buffer)
{
    if (buffer == NULL)
        return VACCEL_EINVAL;
    *buffer = (struct vaccel_tf_buffer){0};
    return VACCEL_OK;
}
EXPORT int vaccel_tf_node_init(struct vaccel_tf_node *node, const char *name, int id)
{
    if (node == NULL || name == NULL)
        return VACCEL_EINVAL;
    char *c = strdup(name);
    if (c == NULL)
        return VACCEL_ENOMEM;
    *node = (struct vaccel_tf_node){c, id};
    return VACCEL_OK;
}
EXPORT int vaccel_tf_node_release(struct vaccel_tf_node *node)
{
    if (node == NULL)
        return VACCEL_EINVAL;
    free(node->name);
    *node = (struct vaccel_tf_node){0};
    return VACCEL_OK;
}
EXPORT int vaccel_tf_tensor_init(struct vaccel_tf_tensor *tensor, int nr_dims, const int64_t *dims,
                                 enum vaccel_tf_data_type type)
{
    if (tensor == NULL || nr_dims < 0)
        return VACCEL_EINVAL;
    void *d;
    int rc = dims_copy(&d, dims, (size_t)nr_dims, sizeof(int64_t));
    if (rc)
        return rc;
    *tensor = (struct vaccel_tf_tensor){NULL, 0, false, nr_dims, d, type};
    return VACCEL_OK;
}
EXPORT int vaccel_tf_tensor_new(struct vaccel_tf_tensor **tensor, int nr_dims, const int64_t *dims,
                                enum vaccel_tf_data_type type)
{
    if (tensor == NULL)
        return VACCEL_EINVAL;
    struct vaccel_tf_tensor *t = malloc(sizeof(*t));
    if (t == NULL)
        return VACCEL_ENOMEM;
    int rc = vaccel_tf_tensor_init(t, nr_dims, dims, type);
    if (rc)
        free(t);
    else
        *tensor = t;
    return rc;
}
EXPORT int vaccel_tf_tensor_set_data(struct vaccel_tf_tensor *tensor, void *data, size_t size)
{
    if (tensor == NULL)
        return VACCEL_EINVAL;
    tensor_data_set(&tensor->data, &tensor->size, &tensor->owned, data, size);
    return VACCEL_OK;
}
EXPORT int vaccel_tf_tensor_release(struct vaccel_tf_tensor *tensor)
{
    if (tensor == NULL)
        return VACCEL_EINVAL;
    tensor_data_set(&tensor->data, &tensor->size, &tensor->owned, NULL, 0);
    free(tensor->dims);
    *tensor = (struct vaccel_tf_tensor){0};
    return VACCEL_OK;
}
EXPORT int vaccel_tf_tensor_delete(struct vaccel_tf_tensor *tensor)
{
    int rc = vaccel_tf_tensor_release(tensor);
    if (rc == VACCEL_OK)
        free(tensor);
    return rc;
}
EXPORT int vaccel_tf_status_init(struct vaccel_tf_status *status, uint8_t code, const char *message)
{
    if (status == NULL)
        return VACCEL_EINVAL;
    *status = (struct vaccel_tf_status){code, message ? strdup(message) : NULL};
    return message && status->message == NULL ? VACCEL_ENOMEM : VACCEL_OK;
}
EXPORT int vaccel_tf_status_release(struct vaccel_tf_status *status)
{
    if (status == NULL)
        return VACCEL_EINVAL;
    free(status->message);
    *status = (struct vaccel_tf_status){0};
    return VACCEL_OK;
}

static int model_notsup(struct vaccel_session *sess, struct vaccel_resource *model,
                        const char *what)
{
    if (sess == NULL || model == NULL)
        return VACCEL_EINVAL;
    funk_accel_log(FUNK_LOG_INFO, "vaccel", "%s: no funk plugin offers it", what);
    return VACCEL_ENOTSUP;
}

EXPORT int vaccel_tf_model_load(struct vaccel_session *sess, struct vaccel_resource *model,
                                struct vaccel_tf_status *status)
{
    (void)status;
    return model_notsup(sess, model, "TensorFlow model load");
}
EXPORT int vaccel_tf_model_run(struct vaccel_session *sess, struct vaccel_resource *model,
                               const struct vaccel_tf_buffer *run_options,
                               const struct vaccel_tf_node *in_nodes,
                               struct vaccel_tf_tensor *const *in_tensors, int nr_inputs,
                               const struct vaccel_tf_node *out_nodes,
                               struct vaccel_tf_tensor **out_tensors, int nr_outputs,
                               struct vaccel_tf_status *status)
{
    (void)run_options, (void)in_nodes, (void)in_tensors, (void)nr_inputs, (void)out_nodes;
    (void)out_tensors, (void)nr_outputs, (void)status;
    return model_notsup(sess, model, "TensorFlow model run");
}
EXPORT int vaccel_tf_model_unload(struct vaccel_session *sess, struct vaccel_resource *model,
                                  struct vaccel_tf_status *status)
{
    (void)status;
    return model_notsup(sess, model, "TensorFlow model unload");
}

EXPORT int vaccel_tflite_tensor_new(struct vaccel_tflite_tensor **tensor, int nr_dims,
                                    const int32_t *dims, enum vaccel_tflite_data_type type)
{
    if (tensor == NULL || nr_dims < 0)
        return VACCEL_EINVAL;
    void *t, *d;
    int rc = tensor_alloc(sizeof(**tensor), dims, (size_t)nr_dims, sizeof(int32_t), &t, &d);
    if (rc)
        return rc;
    *tensor = t;
    **tensor = (struct vaccel_tflite_tensor){NULL, 0, false, nr_dims, d, type};
    return VACCEL_OK;
}
EXPORT int vaccel_tflite_tensor_set_data(struct vaccel_tflite_tensor *tensor, void *data,
                                         size_t size)
{
    if (tensor == NULL)
        return VACCEL_EINVAL;
    tensor_data_set(&tensor->data, &tensor->size, &tensor->owned, data, size);
    return VACCEL_OK;
}
EXPORT int vaccel_tflite_tensor_delete(struct vaccel_tflite_tensor *tensor)
{
    if (tensor == NULL)
        return VACCEL_EINVAL;
    tensor_data_set(&tensor->data, &tensor->size, &tensor->owned, NULL, 0);
    free(tensor->dims);
    free(tensor);
    return VACCEL_OK;
}
EXPORT int vaccel_tflite_model_load(struct vaccel_session *sess, struct vaccel_resource *model)
{
    return model_notsup(sess, model, "TF Lite model load");
}
EXPORT int vaccel_tflite_model_run(struct vaccel_session *sess, struct vaccel_resource *model,
                                   struct vaccel_tflite_tensor *const *inputs, int nr_inputs,
                                   struct vaccel_tflite_tensor **outputs, int nr_outputs,
                                   uint8_t *status)
{
    (void)inputs, (void)nr_inputs, (void)outputs, (void)nr_outputs, (void)status;
    return model_notsup(sess, model, "TF Lite model run");
}
EXPORT int vaccel_tflite_model_unload(struct vaccel_session *sess, struct vaccel_resource *model)
{
    return model_notsup(sess, model, "TF Lite model unload");
}

EXPORT int vaccel_torch_buffer_init(struct vaccel_torch_buffer *buffer, char *data, size_t size)
{
    if (buffer == NULL)
        return VACCEL_EINVAL;
    *buffer = (struct vaccel_torch_buffer){data, size};
    return VACCEL_OK;
}
EXPORT int vaccel_torch_buffer_release(struct vaccel_torch_buffer *buffer)
{
    if (buffer == NULL)
        return VACCEL_EINVAL;
    *buffer = (struct vaccel_torch_buffer){0};
    return VACCEL_OK;
}
EXPORT int vaccel_torch_tensor_new(struct vaccel_torch_tensor **tensor, int64_t nr_dims,
                                   const int64_t *dims, enum vaccel_torch_data_type type)
{
    if (tensor == NULL || nr_dims < 0 || (uint64_t)nr_dims > SIZE_MAX)
        return VACCEL_EINVAL;
    void *t, *d;
    int rc = tensor_alloc(sizeof(**tensor), dims, (size_t)nr_dims, sizeof(int64_t), &t, &d);
    if (rc)
        return rc;
    *tensor = t;
    **tensor = (struct vaccel_torch_tensor){NULL, 0, false, nr_dims, d, type};
    return VACCEL_OK;
}
EXPORT int vaccel_torch_tensor_set_data(struct vaccel_torch_tensor *tensor, void *data, size_t size)
{
    if (tensor == NULL)
        return VACCEL_EINVAL;
    tensor_data_set(&tensor->data, &tensor->size, &tensor->owned, data, size);
    return VACCEL_OK;
}
EXPORT int vaccel_torch_tensor_delete(struct vaccel_torch_tensor *tensor)
{
    if (tensor == NULL)
        return VACCEL_EINVAL;
    tensor_data_set(&tensor->data, &tensor->size, &tensor->owned, NULL, 0);
    free(tensor->dims);
    free(tensor);
    return VACCEL_OK;
}
/* vaccel_torch_model_load and vaccel_torch_model_run: torch.c (funk_accel_model_run). */
