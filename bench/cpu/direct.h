/* SPDX-License-Identifier: Apache-2.0 */
/* Baseline for bench/cpu: the same OpenCV DNN calls the cpu plugin makes, made directly. */
#ifndef FUNK_BENCH_CPU_DIRECT_H
#define FUNK_BENCH_CPU_DIRECT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct direct_label {
    int cls;
    float score;
} direct_label;

/* Loads the CenterNet ONNX model with OpenCV's own calls; threads as the plugin sets them. */
int direct_init(const char *onnx_path, int threads);
/* image_decode (the plugin's libjpeg/libpng code), blobFromImage (512x512, RGB), forward
 * keypoints+wh, per-class max, top-k. -1: the image did not decode. */
int direct_classify(const void *image, size_t len, direct_label *out, int k);
void direct_fini(void);

#ifdef __cplusplus
}
#endif

#endif
