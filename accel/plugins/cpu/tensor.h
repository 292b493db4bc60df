/* SPDX-License-Identifier: Apache-2.0 */
/* accel_dnn's model runs: ONNX models on OpenCV DNN for funk_accel_model_run (cpu and opencl). */
#ifndef FUNK_ACCEL_DNN_TENSOR_H
#define FUNK_ACCEL_DNN_TENSOR_H

#include <funk/accel_plugin.h>

#include "dnn.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A plugin keeps one tensor_dnn: init(): tensor_dnn_new; model_run: tensor_dnn_run; fini():
 * tensor_dnn_free. Loaded nets are cached by the model's SHA-256 (the same bytes are the same
 * net), at most TENSOR_DNN_CACHE of them; an unused one is evicted for a new model. Each net
 * runs one inference at a time. Inputs: f32 (OpenCV DNN's input type), named when there are
 * several. Declines (-ENOTSUP) models that are not ONNX, so a torch plugin can take them.
 */
#define TENSOR_DNN_CACHE 16

typedef struct tensor_dnn tensor_dnn;

int tensor_dnn_new(tensor_dnn **out, dnn_target target, const char *component);
void tensor_dnn_free(tensor_dnn *t);
int tensor_dnn_run(tensor_dnn *t, funk_accel_resource *model, const funk_accel_tensor *in,
                   size_t n_in, funk_accel_tensor *out, size_t n_out);

/* ---- The C++ shim (tensor_cv.cpp) ---- */
typedef struct tensor_cv_net tensor_cv_net;
/* Called once per output, in order, with OpenCV's result (valid during the call). */
typedef int (*tensor_cv_emit_fn)(void *ctx, size_t i, uint32_t dtype, uint32_t rank,
                                 const int64_t *shape, const void *data, size_t bytes);
int tensor_cv_load(tensor_cv_net **out, const void *data, size_t len, dnn_target target, char *err,
                   size_t err_len);
void tensor_cv_free(tensor_cv_net *n);
/* names: the outputs wanted (an entry NULL or "": the net's output at that position). */
int tensor_cv_run(tensor_cv_net *n, const funk_accel_tensor *in, size_t n_in,
                  const char *const *names, size_t n_out, tensor_cv_emit_fn emit, void *ctx,
                  char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_ACCEL_DNN_TENSOR_H */
