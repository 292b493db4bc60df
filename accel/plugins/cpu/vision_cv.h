/* SPDX-License-Identifier: Apache-2.0 */
/* The C interface of vision_cv.cpp (OpenCV is C++ only). */
#ifndef FUNK_ACCEL_VISION_CV_H
#define FUNK_ACCEL_VISION_CV_H

#ifdef __cplusplus
extern "C" {
#endif

/* A gw x gh map of probabilities 0..1 to w x h bytes 0..255 at out (bilinear, half-pixel
 * centres, saturating). 0, -ENOMEM or -EIO. */
int vision_cv_mask_to_bytes(const float *prob, int gw, int gh, unsigned char *out, int w, int h);

#ifdef __cplusplus
}
#endif

#endif /* FUNK_ACCEL_VISION_CV_H */
