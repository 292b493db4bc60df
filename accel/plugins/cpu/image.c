/* SPDX-License-Identifier: Apache-2.0 */
/* Image decoding for accel_dnn: JPEG (libjpeg) and PNG (libpng) bytes to packed 8-bit RGB. */
#include "image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

/*
 * Why not OpenCV's imdecode: Debian's libopencv_imgcodecs drags in GDAL and ~100 libraries;
 * dlopen'ed from a plugin, their dynamic TLS crashes LeakSanitizer at exit and GDAL leaks at
 * start-up. libjpeg and libpng are what imdecode uses underneath anyway.
 */

static int too_big(uint32_t w, uint32_t h)
{
    return w == 0 || h == 0 || w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE ||
           (uint64_t)w * h > IMAGE_MAX_PIXELS;
}

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jpeg_err;

static void jpeg_fail(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    longjmp(e->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level; /* corrupt-data warnings: libjpeg recovers; no stderr noise */
}

static int decode_jpeg(const void *data, size_t len, image_rgb *out)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    /* volatile: modified between setjmp and a possible longjmp */
    uint8_t *volatile pixels = NULL;
    volatile int rc = -EBADMSG;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    err.mgr.emit_message = jpeg_quiet;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return rc;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)len);
    if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK)
        longjmp(err.jump, 1);
    cinfo.out_color_space = JCS_RGB; /* grayscale and YCbCr both come out as RGB */
    if (too_big(cinfo.image_width, cinfo.image_height))
        longjmp(err.jump, 1);
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3)
        longjmp(err.jump, 1);
    size_t stride = (size_t)cinfo.output_width * 3;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        rc = -ENOMEM;
        longjmp(err.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    out->w = (int)cinfo.output_width;
    out->h = (int)cinfo.output_height;
    out->rgb = pixels;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

static int decode_png(const void *data, size_t len, image_rgb *out)
{
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len))
        return -EBADMSG;
    if (too_big(img.width, img.height)) {
        png_image_free(&img);
        return -EBADMSG;
    }
    img.format =
        PNG_FORMAT_RGB; /* palette, gray, alpha (composited on black), 16-bit: all to RGB8 */
    uint8_t *pixels = malloc(PNG_IMAGE_SIZE(img));
    if (!pixels) {
        png_image_free(&img);
        return -ENOMEM;
    }
    if (!png_image_finish_read(&img, NULL, pixels, 0, NULL)) {
        free(pixels);
        png_image_free(&img);
        return -EBADMSG;
    }
    out->w = (int)img.width;
    out->h = (int)img.height;
    out->rgb = pixels;
    png_image_free(&img);
    return 0;
}

int image_decode(const void *data, size_t len, image_rgb *out)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const uint8_t *b = data;
    memset(out, 0, sizeof(*out));
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return decode_jpeg(data, len, out);
    if (len >= sizeof(png_sig) && memcmp(b, png_sig, sizeof(png_sig)) == 0)
        return decode_png(data, len, out);
    return -EBADMSG;
}

void image_free(image_rgb *img)
{
    free(img->rgb);
    img->rgb = NULL;
}
