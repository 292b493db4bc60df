/* SPDX-License-Identifier: Apache-2.0 */
/* The thin C interface over OpenCV (C++ only): image decode to a blob, net load, forward. */
#ifndef FUNK_ACCEL_DNN_CV_H
#define FUNK_ACCEL_DNN_CV_H

#include <stddef.h>

#include "dnn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pre-processing: resize to w x h (bilinear, aspect not kept), channel order, then per channel
 * value = pixel * scale[c] - mean[c] (c in the net's channel order). */
typedef struct dnn_cv_pre {
    int w, h;
    int rgb; /* 1: R,G,B planes; 0: B,G,R (OpenCV's decode order) */
    float scale[3];
    float mean[3];
} dnn_cv_pre;

typedef struct dnn_cv_blob dnn_cv_blob;
typedef struct dnn_cv_net dnn_cv_net;

/* An output tensor, pointing into the net; valid until the next forward on that net. */
typedef struct dnn_cv_tensor {
    const float *data;
    int dims;
    int shape[4];
    size_t count;
} dnn_cv_tensor;

/* Packed 8-bit RGB pixels (w x h) into a [1,3,pre->h,pre->w] float blob. */
int dnn_cv_blob_from_rgb(const unsigned char *rgb, int w, int h, const dnn_cv_pre *pre,
                         dnn_cv_blob **out);
void dnn_cv_blob_free(dnn_cv_blob *b);

/* Loads an ONNX model from memory. -EBADMSG with a reason in err when OpenCV rejects it. */
int dnn_cv_net_load(dnn_cv_net **out, const void *data, size_t len, dnn_target target, char *err,
                    size_t err_len);
void dnn_cv_net_free(dnn_cv_net *n);
/* Whether the net has an output (unconnected layer) of that name. */
int dnn_cv_net_has_output(const dnn_cv_net *n, const char *name);

/* Runs the net on a blob; names: output names (NULL/0: every output, in order). Not
 * re-entrant per net: callers serialise. */
int dnn_cv_forward(dnn_cv_net *n, dnn_cv_blob *blob, const char *const *names, size_t n_names,
                   dnn_cv_tensor *out, size_t n_out, char *err, size_t err_len);

/* OpenCV's global thread count for parallel loops. */
void dnn_cv_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_ACCEL_DNN_CV_H */
