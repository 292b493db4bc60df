/* SPDX-License-Identifier: Apache-2.0 */
/* Image decoding for accel_dnn: JPEG/PNG bytes to packed 8-bit RGB, with size limits. */
#ifndef FUNK_ACCEL_DNN_IMAGE_H
#define FUNK_ACCEL_DNN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMAGE_MAX_SIDE 16384u
#define IMAGE_MAX_PIXELS (64u * 1024u * 1024u)

typedef struct image_rgb {
    int w, h;
    uint8_t *rgb; /* w * h * 3 bytes, rows packed, R,G,B */
} image_rgb;

/* -EBADMSG: not a JPEG/PNG, corrupt, or larger than the limits above; -ENOMEM. */
int image_decode(const void *data, size_t len, image_rgb *out);
void image_free(image_rgb *img);

#endif /* FUNK_ACCEL_DNN_IMAGE_H */
