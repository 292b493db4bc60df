/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: renders a line of text as a PNG, upright or rotated 180 degrees (OpenCV). */
#ifndef FUNK_TEST_TEXTIMG_H
#define FUNK_TEST_TEXTIMG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Black text on white, w x h pixels, encoded as PNG into a malloc'd buffer. 0 or -errno. */
int textimg_png(const char *text, int w, int h, int rotate180, unsigned char **png, size_t *len);
/* The same, encoded with ext (".png", ".jpg"), as 8-bit grayscale when gray is set. */
int textimg_encode(const char *text, int w, int h, int rotate180, const char *ext, int gray,
                   unsigned char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
