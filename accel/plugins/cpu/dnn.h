/* SPDX-License-Identifier: Apache-2.0 */
/* accel_dnn: image classify/detect on OpenCV DNN, shared by the cpu and opencl plugins. */
#ifndef FUNK_ACCEL_DNN_H
#define FUNK_ACCEL_DNN_H

#include <funk/accel_plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What a plugin does with this library:
 *   init():          dnn_ctx_new(&ctx, DNN_TARGET_CPU or DNN_TARGET_OPENCL, "cpu")
 *   image_classify:  return dnn_classify(ctx, call, model, image, len, out, max)
 *   image_detect:    return dnn_detect(ctx, call, model, image, len, min_pct, out, max)
 *   resource_free:   dnn_resource_free(slot)
 *   fini():          dnn_ctx_free(ctx)
 *
 * Models: a registered MODEL resource is loaded once per (resource, plugin) and cached in the
 * resource's slot; model == NULL means the default CenterNet model, found by dnn_model_dir()
 * and loaded lazily once per ctx. Each loaded network runs one inference at a time (OpenCV
 * nets are not re-entrant); OpenCV parallelises inside one inference.
 *
 * Errors: -EBADMSG image bytes that do not decode, or a corrupt model; -ENOENT default model
 * not found (run scripts/models.sh); -ENOTSUP a model that is not ONNX (attribute "format"
 * other than "onnx", or bytes that do not start like an ONNX protobuf) or layout "nhwc";
 * -EINVAL bad model attributes; -ENOMEM.
 */

typedef enum dnn_target {
    DNN_TARGET_CPU = 0,
    DNN_TARGET_OPENCL = 1,
} dnn_target;

typedef struct dnn_ctx dnn_ctx;

/* threads for OpenCV's parallel loops: FUNK_ACCEL_CPU_THREADS, else the online CPU count. */
int dnn_ctx_new(dnn_ctx **out, dnn_target target, const char *component);
void dnn_ctx_free(dnn_ctx *ctx);
/* The thread count dnn_ctx_new chose (the cpu plugin gives OpenBLAS the same). */
int dnn_ctx_threads(const dnn_ctx *ctx);

int dnn_classify(dnn_ctx *ctx, const funk_accel_call *c, funk_accel_resource *model,
                 const void *image, size_t image_len, funk_accel_label *out, size_t max);
int dnn_detect(dnn_ctx *ctx, const funk_accel_call *c, funk_accel_resource *model,
               const void *image, size_t image_len, uint32_t min_score_pct,
               funk_accel_detection *out, size_t max);

/* Frees what dnn_classify/dnn_detect stored in a resource slot. */
void dnn_resource_free(void *slot);

/*
 * The folder holding the default model (centernet.onnx + coco80.txt), first match of:
 *   1. $FUNK_MODEL_DIR
 *   2. <prefix>/share/funk/models, prefix = two folders above the plugin (lib/funk/..)
 *   3. the configured install datadir (meson prefix/share/funk/models)
 *   4. <prefix>/../.cache/models (make's layout: build/lib/funk -> <repo>/.cache/models)
 *   5. <source root>/.cache/models (the tree this library was built from)
 * Writes it into buf; returns 0, -ENOENT when none holds centernet.onnx, -ENOSPC.
 */
int dnn_model_dir(char *buf, size_t len);

/* Default score threshold of dnn_detect when min_score_pct is 0. */
#define DNN_DEFAULT_MIN_SCORE_PCT 25

#ifdef __cplusplus
}
#endif

#endif /* FUNK_ACCEL_DNN_H */
