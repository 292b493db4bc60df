/* SPDX-License-Identifier: Apache-2.0 */
/* funk-accel --draw: labelled boxes (detect) or a caption (classify) on the input image. */
#ifndef FUNK_ACCEL_CLI_DRAW_H
#define FUNK_ACCEL_CLI_DRAW_H

#include <stddef.h>

struct draw_item {
    const char *label;
    float score;
    float x, y, w, h; /* fractions of the image; unused for a caption */
};

/* Decodes img (JPEG or PNG, len bytes), draws the n items (boxes != 0: a box and its label
 * each; else the labels as a caption) and writes a PNG to out_path. 0 or a negative errno:
 * -EPROTONOSUPPORT an unknown format, -EBADMSG a corrupt image, -EFBIG over the size cap. */
int funk_draw_png(const void *img, size_t len, const struct draw_item *items, size_t n,
                  int boxes, const char *out_path);

#endif
