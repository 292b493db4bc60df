/* SPDX-License-Identifier: Apache-2.0 */
/* Pose keypoints (MoveNet Lightning, decoded here) and person masks (MediaPipe selfie) on
 * OpenCV DNN, as the generic operations "image_pose" and "image_segment". */
#include "vision.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <funk/accel.h>

#include "dnn_cv.h"
#include "image.h"
#include "vision_cv.h"

#define POSE_MODEL "movenet.onnx"
#define POSE_SIZE 192
#define POSE_GRID 48
#define SEG_MODEL "selfie.onnx"
#define SEG_SIZE 256
#define MODEL_MAX_BYTES (256u << 20)

/* MoveNet's keypoints, COCO order. */
static const char *const kp_names[FUNK_ACCEL_POSE_KEYPOINTS] = {
    "nose",           "left_eye",   "right_eye",   "left_ear",   "right_ear",   "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip",      "left_knee",  "right_knee",  "left_ankle", "right_ankle"};

typedef struct vision_net {
    pthread_mutex_t lock; /* load once; one forward at a time */
    dnn_cv_net *net;
} vision_net;

struct vision_ctx {
    dnn_target target;
    char component[16];
    vision_net pose, seg;
};

#define LOG(v, lvl, ...) funk_accel_log(lvl, (v)->component, __VA_ARGS__)

int vision_ctx_new(vision_ctx **out, dnn_target target, const char *component)
{
    vision_ctx *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->target = target;
    snprintf(v->component, sizeof(v->component), "%s", component ? component : "vision");
    pthread_mutex_init(&v->pose.lock, NULL);
    pthread_mutex_init(&v->seg.lock, NULL);
    *out = v;
    return 0;
}

void vision_ctx_free(vision_ctx *v)
{
    if (!v)
        return;
    dnn_cv_net_free(v->pose.net);
    dnn_cv_net_free(v->seg.net);
    pthread_mutex_destroy(&v->pose.lock);
    pthread_mutex_destroy(&v->seg.lock);
    free(v);
}

/* Reads a regular file of at most MODEL_MAX_BYTES. */
static int read_model(const char *path, void **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (unsigned long long)st.st_size > MODEL_MAX_BYTES) {
        rc = -EBADMSG;
        goto out;
    }
    size_t n = (size_t)st.st_size, got = 0;
    buf = malloc(n);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = -EIO;
            goto out;
        }
        got += (size_t)r;
    }
    *data = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

/* Locks vn and loads its model on first use; on success the caller holds vn->lock. */
static int net_acquire(vision_ctx *v, vision_net *vn, const char *file)
{
    pthread_mutex_lock(&vn->lock);
    if (vn->net)
        return 0;
    char dir[PATH_MAX], path[PATH_MAX + 32];
    int rc = dnn_model_dir(dir, sizeof(dir));
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        void *data = NULL;
        size_t len = 0;
        rc = read_model(path, &data, &len);
        if (rc == 0) {
            char err[256] = "";
            rc = dnn_cv_net_load(&vn->net, data, len, v->target, err, sizeof(err));
            free(data);
            if (rc < 0)
                LOG(v, FUNK_LOG_ERROR, "model %s: cannot load: %s", path, err[0] ? err : "?");
            else
                LOG(v, FUNK_LOG_INFO, "model %s loaded", path);
        } else {
            LOG(v, FUNK_LOG_ERROR, "model %s: %s (run scripts/models.sh)", path, strerror(-rc));
            if (rc != -ENOMEM && rc != -EBADMSG)
                rc = -ENOENT;
        }
    } else {
        LOG(v, FUNK_LOG_ERROR, "model %s: no model folder found (run scripts/models.sh)", file);
        rc = -ENOENT;
    }
    if (rc < 0)
        pthread_mutex_unlock(&vn->lock);
    return rc;
}

static int is_bytes(const funk_accel_arg *a, size_t min)
{
    return a->type == FUNK_ACCEL_ARG_BYTES && a->data != NULL && a->size >= min;
}

static float sample(const uint8_t *rgb, int w, int h, float x, float y, int c)
{
    x = x < 0 ? 0 : (x > (float)(w - 1) ? (float)(w - 1) : x);
    y = y < 0 ? 0 : (y > (float)(h - 1) ? (float)(h - 1) : y);
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    const uint8_t *r0 = rgb + (size_t)y0 * w * 3, *r1 = rgb + (size_t)y1 * w * 3;
    float top = r0[x0 * 3 + c] * (1 - fx) + r0[x1 * 3 + c] * fx;
    float bot = r1[x0 * 3 + c] * (1 - fx) + r1[x1 * 3 + c] * fx;
    return top * (1 - fy) + bot * fy;
}

/* Fits the image into a side x side canvas keeping its aspect, centred on black; *scale and
 * the offsets map canvas pixels back to image pixels. Area-averages when shrinking a lot. */
static void letterbox(const image_rgb *img, uint8_t *dst, int side, float *scale, int *ox, int *oy)
{
    int big = img->w > img->h ? img->w : img->h;
    float s = (float)side / (float)big;
    int nw = (int)lroundf(img->w * s), nh = (int)lroundf(img->h * s);
    nw = nw < 1 ? 1 : (nw > side ? side : nw);
    nh = nh < 1 ? 1 : (nh > side ? side : nh);
    *ox = (side - nw) / 2;
    *oy = (side - nh) / 2;
    *scale = s;
    memset(dst, 0, (size_t)side * side * 3);
    float step = 1.0f / s; /* source pixels per canvas pixel */
    int taps = step > 2.0f ? (int)ceilf(step / 2.0f) : 1;
    if (taps > 8)
        taps = 8;
    for (int y = 0; y < nh; y++)
        for (int x = 0; x < nw; x++)
            for (int c = 0; c < 3; c++) {
                float acc = 0;
                for (int ty = 0; ty < taps; ty++)
                    for (int tx = 0; tx < taps; tx++) {
                        float sx = ((float)x + (tx + 0.5f) / taps) * step - 0.5f;
                        float sy = ((float)y + (ty + 0.5f) / taps) * step - 0.5f;
                        acc += sample(img->rgb, img->w, img->h, sx, sy, c);
                    }
                float val = acc / (float)(taps * taps);
                dst[((size_t)(y + *oy) * side + (x + *ox)) * 3 + c] =
                    (uint8_t)(val < 0 ? 0 : (val > 255 ? 255 : val + 0.5f));
            }
}

static int check_maps(const dnn_cv_tensor *t)
{
    static const int ch[4] = {FUNK_ACCEL_POSE_KEYPOINTS, 1, 2 * FUNK_ACCEL_POSE_KEYPOINTS,
                              2 * FUNK_ACCEL_POSE_KEYPOINTS};
    for (int i = 0; i < 4; i++)
        if (t[i].dims != 4 || t[i].shape[0] != 1 || t[i].shape[1] != ch[i] ||
            t[i].shape[2] != POSE_GRID || t[i].shape[3] != POSE_GRID)
            return -EBADMSG;
    return 0;
}

/* MoveNet's single-pose decoding: the person centre is the peak of the (centre-weighted)
 * centre map; each keypoint's regressed position from there picks, among the heatmap's cells,
 * the best score discounted by distance; the offset map refines it within the cell. */
static void decode_pose(const dnn_cv_tensor *t, funk_accel_keypoint *kp)
{
    const int G = POSE_GRID;
    const size_t plane = (size_t)G * G;
    const float *heat = t[0].data, *center = t[1].data, *reg = t[2].data, *off = t[3].data;
    size_t best = 0;
    for (size_t i = 1; i < plane; i++)
        best = center[i] > center[best] ? i : best;
    int cy = (int)(best / G), cx = (int)(best % G);
    for (int k = 0; k < FUNK_ACCEL_POSE_KEYPOINTS; k++) {
        float ry = (float)cy + reg[(size_t)(2 * k) * plane + best];
        float rx = (float)cx + reg[(size_t)(2 * k + 1) * plane + best];
        const float *h = heat + (size_t)k * plane;
        size_t pick = 0;
        float pick_v = -1;
        for (int y = 0; y < G; y++)
            for (int x = 0; x < G; x++) {
                float dy = (float)y - ry, dx = (float)x - rx;
                float v = h[(size_t)y * G + x] / (sqrtf(dy * dy + dx * dx) + 1.8f);
                if (v > pick_v) {
                    pick_v = v;
                    pick = (size_t)y * G + x;
                }
            }
        float ky = (float)(pick / G) + off[(size_t)(2 * k) * plane + pick];
        float kx = (float)(pick % G) + off[(size_t)(2 * k + 1) * plane + pick];
        memset(&kp[k], 0, sizeof(kp[k]));
        snprintf(kp[k].name, sizeof(kp[k].name), "%s", kp_names[k]);
        kp[k].x = kx / (float)G; /* fractions of the canvas for now */
        kp[k].y = ky / (float)G;
        kp[k].score = h[pick];
    }
}

static float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

static int op_pose(vision_ctx *v, const funk_accel_arg *in, size_t n_in, funk_accel_arg *out,
                   size_t n_out)
{
    if (n_in != 1 || n_out != 1 || !is_bytes(&in[0], 1) ||
        !is_bytes(&out[0], sizeof(funk_accel_keypoint)))
        return -EINVAL;
    size_t max = out[0].size / sizeof(funk_accel_keypoint);
    image_rgb img;
    int rc = image_decode(in[0].data, in[0].size, &img);
    if (rc < 0)
        return rc;
    uint8_t *canvas = malloc((size_t)POSE_SIZE * POSE_SIZE * 3);
    if (!canvas) {
        image_free(&img);
        return -ENOMEM;
    }
    float s;
    int ox, oy;
    letterbox(&img, canvas, POSE_SIZE, &s, &ox, &oy);
    int iw = img.w, ih = img.h;
    image_free(&img);
    /* the graph's own normalisation, dropped by the converter: x / 127.5 - 1 */
    dnn_cv_pre pre = {.w = POSE_SIZE,
                      .h = POSE_SIZE,
                      .rgb = 1,
                      .scale = {1 / 127.5f, 1 / 127.5f, 1 / 127.5f},
                      .mean = {1, 1, 1}};
    dnn_cv_blob *blob = NULL;
    rc = dnn_cv_blob_from_rgb(canvas, POSE_SIZE, POSE_SIZE, &pre, &blob);
    free(canvas);
    if (rc < 0)
        return rc;
    rc = net_acquire(v, &v->pose, POSE_MODEL);
    if (rc < 0) {
        dnn_cv_blob_free(blob);
        return rc;
    }
    static const char *const names[] = {"heatmap", "center", "regress", "offset"};
    dnn_cv_tensor t[4];
    char err[256] = "";
    funk_accel_keypoint kp[FUNK_ACCEL_POSE_KEYPOINTS];
    rc = dnn_cv_forward(v->pose.net, blob, names, 4, t, 4, err, sizeof(err));
    if (rc >= 0 && (rc = check_maps(t)) < 0)
        LOG(v, FUNK_LOG_ERROR, "%s: outputs have unexpected shapes", POSE_MODEL);
    if (rc >= 0)
        decode_pose(t, kp);
    else if (err[0])
        LOG(v, FUNK_LOG_ERROR, "pose inference failed: %s", err);
    pthread_mutex_unlock(&v->pose.lock);
    dnn_cv_blob_free(blob);
    if (rc < 0)
        return rc;
    size_t n = max < FUNK_ACCEL_POSE_KEYPOINTS ? max : FUNK_ACCEL_POSE_KEYPOINTS;
    for (size_t k = 0; k < n; k++) { /* canvas fractions -> image fractions */
        kp[k].x = clamp01((kp[k].x * POSE_SIZE - (float)ox) / s / (float)iw);
        kp[k].y = clamp01((kp[k].y * POSE_SIZE - (float)oy) / s / (float)ih);
    }
    memcpy(out[0].data, kp, n * sizeof(*kp));
    out[0].used = n * sizeof(*kp);
    return (int)n;
}

static int op_segment(vision_ctx *v, const funk_accel_arg *in, size_t n_in, funk_accel_arg *out,
                      size_t n_out)
{
    if (n_in != 2 || n_out != 2 || !is_bytes(&in[0], 1) || !is_bytes(&in[1], 8) ||
        in[1].size != 8 || !is_bytes(&out[0], 1) || !is_bytes(&out[1], 8))
        return -EINVAL;
    uint32_t want[2];
    memcpy(want, in[1].data, sizeof(want));
    if ((want[0] == 0) != (want[1] == 0) || want[0] > IMAGE_MAX_SIDE || want[1] > IMAGE_MAX_SIDE ||
        (uint64_t)want[0] * want[1] > IMAGE_MAX_PIXELS)
        return -EINVAL;
    image_rgb img;
    int rc = image_decode(in[0].data, in[0].size, &img);
    if (rc < 0)
        return rc;
    uint32_t mw = want[0] ? want[0] : (uint32_t)img.w, mh = want[1] ? want[1] : (uint32_t)img.h;
    size_t need = (size_t)mw * mh;
    if (out[0].size < need) {
        image_free(&img);
        return -ENOSPC;
    }
    /* selfie.ts: resize (aspect not kept) and x / 255 */
    dnn_cv_pre pre = {.w = SEG_SIZE,
                      .h = SEG_SIZE,
                      .rgb = 1,
                      .scale = {1 / 255.0f, 1 / 255.0f, 1 / 255.0f},
                      .mean = {0, 0, 0}};
    dnn_cv_blob *blob = NULL;
    rc = dnn_cv_blob_from_rgb(img.rgb, img.w, img.h, &pre, &blob);
    image_free(&img);
    if (rc < 0)
        return rc;
    rc = net_acquire(v, &v->seg, SEG_MODEL);
    if (rc < 0) {
        dnn_cv_blob_free(blob);
        return rc;
    }
    static const char *const names[] = {"mask"};
    dnn_cv_tensor t;
    char err[256] = "";
    rc = dnn_cv_forward(v->seg.net, blob, names, 1, &t, 1, err, sizeof(err));
    if (rc >= 0 &&
        (t.dims != 4 || t.shape[0] != 1 || t.shape[1] != 1 || t.shape[2] < 1 || t.shape[3] < 1)) {
        LOG(v, FUNK_LOG_ERROR, "%s: output has an unexpected shape", SEG_MODEL);
        rc = -EBADMSG;
    } else if (rc < 0) {
        LOG(v, FUNK_LOG_ERROR, "segmentation inference failed: %s", err[0] ? err : "?");
    }
    if (rc >= 0) {
        rc = vision_cv_mask_to_bytes(t.data, t.shape[3], t.shape[2], out[0].data, (int)mw,
                                     (int)mh);
        if (rc < 0)
            LOG(v, FUNK_LOG_ERROR, "segmentation: mask resize failed (%s)", strerror(-rc));
    }
    pthread_mutex_unlock(&v->seg.lock);
    dnn_cv_blob_free(blob);
    if (rc < 0)
        return rc;
    uint32_t got[2] = {mw, mh};
    memcpy(out[1].data, got, sizeof(got));
    out[1].used = sizeof(got);
    out[0].used = need;
    return 0;
}

int vision_op(vision_ctx *v, const char *name, const funk_accel_arg *in, size_t n_in,
              funk_accel_arg *out, size_t n_out)
{
    if (strcmp(name, "image_pose") == 0)
        return op_pose(v, in, n_in, out, n_out);
    if (strcmp(name, "image_segment") == 0)
        return op_segment(v, in, n_in, out, n_out);
    return -ENOENT;
}
