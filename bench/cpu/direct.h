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

/* Pose and segmentation baselines, the plugin's work done with OpenCV's own calls: decode
 * (image.c), cv::resize into a 192x192 letterbox / blobFromImage 256x256, forward, MoveNet
 * decoding into kp (17 x {x, y, score} fractions of the image) / the mask resized to the image
 * with cv::resize into mask (w*h bytes; -1 when cap is too small). */
int direct_vision_init(const char *movenet_path, const char *selfie_path, int threads);
int direct_pose(const void *image, size_t len, float kp[17 * 3]);
int direct_segment(const void *image, size_t len, unsigned char *mask, size_t cap, int *w, int *h);
void direct_vision_fini(void);

#ifdef __cplusplus
}
#endif

#endif
