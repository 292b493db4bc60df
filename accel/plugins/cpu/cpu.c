/* SPDX-License-Identifier: Apache-2.0 */
/* The cpu plugin: sgemm on OpenBLAS, image classify/detect/pose/segment on OpenCV DNN (via
 * accel_dnn). */
#include <errno.h>
#include <stdlib.h>

#include <cblas.h>
#include <funk/accel_plugin.h>

#include "dnn.h"
#include "vision.h"
#include "tensor.h"

#define CPU_LOG "cpu"

typedef struct cpu_plugin {
    dnn_ctx *dnn;
    vision_ctx *vision; /* image_pose, image_segment */
    tensor_dnn *tensor;
} cpu_plugin;

static int cpu_init(void **state)
{
    cpu_plugin *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    int rc = dnn_ctx_new(&p->dnn, DNN_TARGET_CPU, CPU_LOG);
    if (rc < 0) {
        free(p);
        return rc;
    }
    rc = vision_ctx_new(&p->vision, DNN_TARGET_CPU, CPU_LOG);
    if (rc < 0) {
        dnn_ctx_free(p->dnn);
        free(p);
        return rc;
    }
    if ((rc = tensor_dnn_new(&p->tensor, DNN_TARGET_CPU, CPU_LOG)) < 0) {
        vision_ctx_free(p->vision);
        dnn_ctx_free(p->dnn);
        free(p);
        return rc;
    }
    int threads = dnn_ctx_threads(p->dnn); /* FUNK_ACCEL_CPU_THREADS, read once for both */
    openblas_set_num_threads(threads);
    funk_accel_log(FUNK_LOG_INFO, CPU_LOG, "OpenBLAS (%s) and OpenCV DNN on %d threads",
                   openblas_get_config(), threads);
    *state = p;
    return 0;
}

static void cpu_fini(void *state)
{
    cpu_plugin *p = state;
    if (!p)
        return;
    tensor_dnn_free(p->tensor);
    vision_ctx_free(p->vision);
    dnn_ctx_free(p->dnn);
    free(p);
}

static void cpu_resource_free(void *state, void *slot)
{
    (void)state;
    dnn_resource_free(slot);
}

static int cpu_noop(const funk_accel_call *c)
{
    (void)c;
    return 0;
}

static int cpu_sgemm(const funk_accel_call *c, int m, int n, int k, float alpha, const float *a,
                     int lda, const float *b, int ldb, float beta, float *cm, int ldc)
{
    (void)c;
    /* The runtime checks sizes and strides; check again since a bad stride here is memory
     * corruption, not an error message. */
    if (m <= 0 || n <= 0 || k <= 0 || lda < k || ldb < n || ldc < n)
        return -EINVAL;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, cm,
                ldc);
    return 0;
}

static int cpu_classify(const funk_accel_call *c, funk_accel_resource *model, const void *image,
                        size_t image_len, funk_accel_label *out, size_t max)
{
    cpu_plugin *p = c->plugin;
    return dnn_classify(p->dnn, c, model, image, image_len, out, max);
}

static int cpu_detect(const funk_accel_call *c, funk_accel_resource *model, const void *image,
                      size_t image_len, uint32_t min_score_pct, funk_accel_detection *out,
                      size_t max)
{
    cpu_plugin *p = c->plugin;
    return dnn_detect(p->dnn, c, model, image, image_len, min_score_pct, out, max);
}

static int cpu_op(const funk_accel_call *c, const char *name, const funk_accel_arg *in, size_t n_in,
                  funk_accel_arg *out, size_t n_out)
{
    cpu_plugin *p = c->plugin;
    return vision_op(p->vision, name, in, n_in, out, n_out);
}

static int cpu_model_run(const funk_accel_call *c, funk_accel_resource *model,
                         const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                         size_t n_out)
{
    cpu_plugin *p = c->plugin;
    return tensor_dnn_run(p->tensor, model, in, n_in, out, n_out);
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 100, .name = "cpu", .version = "0.1.0",
                         .description = "sgemm on OpenBLAS; classify/detect/pose/segment and model "
                                        "runs on OpenCV DNN (ONNX)",
                         .init = cpu_init, .fini = cpu_fini, .resource_free = cpu_resource_free,
                         .noop = cpu_noop, .sgemm = cpu_sgemm, .image_classify = cpu_classify,
                         .image_detect = cpu_detect, .op = cpu_op, .model_run = cpu_model_run);
