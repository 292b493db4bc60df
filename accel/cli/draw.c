/* SPDX-License-Identifier: Apache-2.0 */
/* funk-accel --draw: decodes the input image (JPEG or PNG), draws labelled boxes or a caption
 * with a built-in 5x7 font, and writes a PNG. Decoders are libjpeg and libpng; image sizes are
 * capped before any pixel buffer is allocated. */
#include "draw.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
/* jpeglib.h needs stdio.h first */
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

/* Larger images are refused: the buffer is width*height*3 bytes. */
#define DRAW_MAX_SIDE 16384u
#define DRAW_MAX_PIXELS (64u << 20)

struct rgb_image {
    unsigned w, h;
    unsigned char *px; /* w*h*3, rows top to bottom */
};

static int size_ok(unsigned long w, unsigned long h)
{
    return w > 0 && h > 0 && w <= DRAW_MAX_SIDE && h <= DRAW_MAX_SIDE &&
           (unsigned long long)w * h <= DRAW_MAX_PIXELS;
}

/* libjpeg's default error handler calls exit(): errors come back here through longjmp. */
struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
};

static void jpeg_fail(j_common_ptr ci)
{
    longjmp(((struct jpeg_err *)ci->err)->jb, 1);
}

static void jpeg_quiet(j_common_ptr ci, int level)
{
    (void)ci;
    (void)level;
}

static int decode_jpeg(const void *data, size_t len, struct rgb_image *out)
{
    struct jpeg_decompress_struct ci;
    struct jpeg_err err;
    /* volatile: read after longjmp */
    unsigned char *volatile px = NULL;
    ci.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    err.mgr.emit_message = jpeg_quiet;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&ci);
        free(px);
        return -EBADMSG;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, data, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    if (!size_ok(ci.image_width, ci.image_height)) {
        jpeg_destroy_decompress(&ci);
        return -EFBIG;
    }
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    if (ci.output_components != 3 || !size_ok(ci.output_width, ci.output_height)) {
        jpeg_destroy_decompress(&ci);
        return -EBADMSG;
    }
    size_t stride = (size_t)ci.output_width * 3;
    px = malloc(stride * ci.output_height);
    if (px == NULL) {
        jpeg_destroy_decompress(&ci);
        return -ENOMEM;
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = px + stride * ci.output_scanline;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    out->w = ci.output_width;
    out->h = ci.output_height;
    out->px = px;
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    return 0;
}

static int decode_png(const void *data, size_t len, struct rgb_image *out)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, data, len))
        return -EBADMSG;
    if (!size_ok(im.width, im.height)) {
        png_image_free(&im);
        return -EFBIG;
    }
    im.format = PNG_FORMAT_RGB;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(im));
    if (px == NULL) {
        png_image_free(&im);
        return -ENOMEM;
    }
    if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
        free(px);
        png_image_free(&im);
        return -EBADMSG;
    }
    out->w = im.width;
    out->h = im.height;
    out->px = px;
    return 0;
}

/* ---- drawing ----------------------------------------------------------------------------- */

/* 5x7 glyphs, one byte per row, bit 4 the leftmost column. */
struct glyph {
    char c;
    unsigned char rows[7];
};

static const struct glyph font[] = {
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}},
    {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}},
    {'3', {0x1e, 0x01, 0x01, 0x0e, 0x01, 0x01, 0x1e}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}},
    {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}},
    {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}},
    {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}},
    {'a', {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f}},
    {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e}},
    {'c', {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e}},
    {'d', {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f}},
    {'e', {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e}},
    {'f', {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08}},
    {'g', {0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e}},
    {'j', {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}},
    {'l', {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'m', {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11}},
    {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'o', {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e}},
    {'p', {0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10}},
    {'q', {0x00, 0x00, 0x0d, 0x13, 0x0f, 0x01, 0x01}},
    {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'s', {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e}},
    {'t', {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d}},
    {'v', {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04}},
    {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a}},
    {'x', {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'z', {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'-', {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}},
    {'\'', {0x0c, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}},
    {':', {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
};

/* Characters without a glyph show as an outlined box. */
static const unsigned char no_glyph[7] = {0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f};

static const unsigned char *glyph_rows(char c)
{
    if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
        if (font[i].c == c)
            return font[i].rows;
    return no_glyph;
}

/* Distinct, saturated colours for successive boxes. */
static const unsigned char palette[][3] = {
    {230, 25, 75}, {60, 180, 75}, {0, 130, 200}, {245, 130, 48}, {145, 30, 180},
    {70, 240, 240}, {240, 50, 230}, {210, 245, 60}, {0, 128, 128}, {170, 110, 40},
};

static void fill(struct rgb_image *im, long x0, long y0, long x1, long y1,
                 const unsigned char *c)
{
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > (long)im->w)
        x1 = (long)im->w;
    if (y1 > (long)im->h)
        y1 = (long)im->h;
    for (long y = y0; y < y1; y++)
        for (long x = x0; x < x1; x++)
            memcpy(im->px + ((size_t)y * im->w + (size_t)x) * 3, c, 3);
}

static void outline(struct rgb_image *im, long x0, long y0, long x1, long y1, long t,
                    const unsigned char *c)
{
    fill(im, x0, y0, x1, y0 + t, c);
    fill(im, x0, y1 - t, x1, y1, c);
    fill(im, x0, y0, x0 + t, y1, c);
    fill(im, x1 - t, y0, x1, y1, c);
}

/* Text at (x, y) (top-left), each font pixel s*s, on a filled background band. */
static void text(struct rgb_image *im, long x, long y, long s, const char *str,
                 const unsigned char *bg)
{
    static const unsigned char white[3] = {255, 255, 255}, black[3] = {0, 0, 0};
    /* dark text on light colours, white on dark ones */
    unsigned lum = (299u * bg[0] + 587u * bg[1] + 114u * bg[2]) / 1000u;
    const unsigned char *fg = lum > 140 ? black : white;
    size_t n = strlen(str);
    fill(im, x, y, x + (long)n * 6 * s + s, y + 9 * s, bg);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *rows = glyph_rows(str[i]);
        for (long r = 0; r < 7; r++)
            for (long col = 0; col < 5; col++)
                if (rows[r] & (0x10 >> col))
                    fill(im, x + s + ((long)i * 6 + col) * s, y + s + r * s,
                         x + s + ((long)i * 6 + col + 1) * s, y + s + (r + 1) * s, fg);
    }
}

static long clampl(double v, long lo, long hi)
{
    if (!(v >= (double)lo)) /* also NaN */
        return lo;
    if (v > (double)hi)
        return hi;
    return (long)v;
}

static void draw_all(struct rgb_image *im, const struct draw_item *items, size_t n, int boxes)
{
    long side = (long)(im->w < im->h ? im->w : im->h);
    long s = side / 240 > 0 ? side / 240 : 1;  /* font scale */
    long t = side / 160 > 0 ? side / 160 : 1;  /* line thickness */
    char label[96];
    for (size_t i = 0; i < n; i++) {
        const unsigned char *c = palette[i % (sizeof palette / sizeof palette[0])];
        snprintf(label, sizeof label, "%.60s %.0f%%", items[i].label,
                 items[i].score * 100.0 > 100.0 ? 100.0 : items[i].score * 100.0);
        if (boxes) {
            long x0 = clampl(items[i].x * im->w, 0, im->w), y0 = clampl(items[i].y * im->h, 0, im->h);
            long x1 = clampl((items[i].x + items[i].w) * im->w, 0, im->w);
            long y1 = clampl((items[i].y + items[i].h) * im->h, 0, im->h);
            if (x1 <= x0 || y1 <= y0)
                continue;
            outline(im, x0, y0, x1, y1, t, c);
            long ty = y0 - 9 * s >= 0 ? y0 - 9 * s : y0;
            text(im, x0, ty, s, label, c);
        } else {
            /* classify: the best labels as a caption, one band per line, top-left */
            text(im, 0, (long)i * 9 * s, s, label, c);
        }
    }
}

int funk_draw_png(const void *img, size_t len, const struct draw_item *items, size_t n,
                  int boxes, const char *out_path)
{
    struct rgb_image im = {0};
    const unsigned char *b = img;
    int rc;
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        rc = decode_jpeg(img, len, &im);
    else if (len >= 8 && png_sig_cmp(b, 0, 8) == 0)
        rc = decode_png(img, len, &im);
    else
        rc = -EPROTONOSUPPORT;
    if (rc < 0)
        return rc;
    draw_all(&im, items, n, boxes);
    png_image wr;
    memset(&wr, 0, sizeof wr);
    wr.version = PNG_IMAGE_VERSION;
    wr.width = im.w;
    wr.height = im.h;
    wr.format = PNG_FORMAT_RGB;
    rc = png_image_write_to_file(&wr, out_path, 0, im.px, 0, NULL) ? 0 : -EIO;
    png_image_free(&wr);
    free(im.px);
    return rc;
}
