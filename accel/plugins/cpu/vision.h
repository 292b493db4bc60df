/* SPDX-License-Identifier: Apache-2.0 */
/* accel_dnn's vision operations: pose keypoints (MoveNet) and person masks (selfie segmenter). */
#ifndef FUNK_ACCEL_VISION_H
#define FUNK_ACCEL_VISION_H

#include <funk/accel_plugin.h>

#include "dnn.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The generic operations behind funk_accel_image_pose / funk_accel_image_segment (their
 * argument conventions are in include/funk/accel.h). A plugin creates one vision_ctx in init()
 * and forwards its generic op() here; vision_op returns -ENOENT for names it does not know.
 *
 * Models: movenet.onnx and selfie.onnx in dnn_model_dir() (scripts/models.sh), each loaded on
 * first use and kept for the ctx's life; one inference per net at a time. A missing model is
 * -ENOENT (logged once per call with the file looked for).
 */
typedef struct vision_ctx vision_ctx;

int vision_ctx_new(vision_ctx **out, dnn_target target, const char *component);
void vision_ctx_free(vision_ctx *v);
int vision_op(vision_ctx *v, const char *name, const funk_accel_arg *in, size_t n_in,
              funk_accel_arg *out, size_t n_out);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_ACCEL_VISION_H */
