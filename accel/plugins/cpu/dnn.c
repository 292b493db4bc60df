/* SPDX-License-Identifier: Apache-2.0 */
/* accel_dnn: model loading and caching, pre/post-processing, CenterNet decoding, classifiers. */
#include "dnn.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnn_cv.h"
#include "image.h"

#ifndef FUNK_DNN_INSTALL_MODEL_DIR
#define FUNK_DNN_INSTALL_MODEL_DIR "/usr/local/share/funk/models"
#endif
#ifndef FUNK_DNN_SOURCE_MODEL_DIR
#define FUNK_DNN_SOURCE_MODEL_DIR ".cache/models"
#endif

#define DEFAULT_MODEL "centernet.onnx"
#define DEFAULT_LABELS "coco80.txt"
#define CENTERNET_SIZE 512

typedef enum dnn_kind {
    DNN_KIND_CENTERNET = 1,
    DNN_KIND_CLASSIFIER = 2,
} dnn_kind;

typedef enum dnn_softmax {
    DNN_SOFTMAX_AUTO = 0,
    DNN_SOFTMAX_YES = 1,
    DNN_SOFTMAX_NO = 2,
} dnn_softmax;

typedef struct dnn_model {
    pthread_mutex_t lock; /* one forward at a time per net */
    dnn_cv_net *net;
    dnn_kind kind;
    dnn_softmax softmax;
    dnn_cv_pre pre;
    char *label_buf; /* labels[i] point into it */
    char **labels;
    size_t n_labels;
} dnn_model;

struct dnn_ctx {
    dnn_target target;
    int threads;
    char component[16];
    pthread_mutex_t lock; /* guards def */
    dnn_model *def;
};

#define LOG(ctx, lvl, ...) funk_accel_log(lvl, (ctx)->component, __VA_ARGS__)

static int cpu_threads(const dnn_ctx *ctx)
{
    const char *env = getenv("FUNK_ACCEL_CPU_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0 && v <= 1024)
            return (int)v;
        LOG(ctx, FUNK_LOG_WARN, "FUNK_ACCEL_CPU_THREADS='%s' ignored", env);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int dnn_ctx_new(dnn_ctx **out, dnn_target target, const char *component)
{
    dnn_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    ctx->target = target;
    snprintf(ctx->component, sizeof(ctx->component), "%s", component ? component : "dnn");
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->threads = cpu_threads(ctx);
    dnn_cv_set_threads(ctx->threads);
    *out = ctx;
    return 0;
}

int dnn_ctx_threads(const dnn_ctx *ctx)
{
    return ctx->threads;
}

static void model_free(dnn_model *m)
{
    if (!m)
        return;
    dnn_cv_net_free(m->net);
    pthread_mutex_destroy(&m->lock);
    free(m->labels);
    free(m->label_buf);
    free(m);
}

void dnn_ctx_free(dnn_ctx *ctx)
{
    if (!ctx)
        return;
    model_free(ctx->def);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

void dnn_resource_free(void *slot)
{
    model_free(slot);
}

/* ---- default model lookup ------------------------------------------------------------------ */

static int has_model(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof(path), "%s/%s", dir, DEFAULT_MODEL) >= (int)sizeof(path))
        return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int try_dir(char *buf, size_t len, const char *dir)
{
    if (!has_model(dir))
        return 0;
    return snprintf(buf, len, "%s", dir) < (int)len ? 1 : -ENOSPC;
}

int dnn_model_dir(char *buf, size_t len)
{
    const char *env = getenv("FUNK_MODEL_DIR");
    int r;
    if (env && *env && (r = try_dir(buf, len, env)) != 0)
        return r < 0 ? r : 0;

    /* prefix = the plugin's folder (lib/funk) two levels up */
    Dl_info info;
    char prefix[PATH_MAX] = "";
    if (dladdr((void *)dnn_model_dir, &info) && info.dli_fname) {
        char real[PATH_MAX];
        if (realpath(info.dli_fname, real)) {
            for (int up = 0; up < 3; up++) {
                char *slash = strrchr(real, '/');
                if (!slash)
                    break;
                *slash = '\0';
            }
            snprintf(prefix, sizeof(prefix), "%s", real);
        }
    }
    char dir[PATH_MAX + 32];
    if (*prefix) {
        snprintf(dir, sizeof(dir), "%s/share/funk/models", prefix);
        if ((r = try_dir(buf, len, dir)) != 0)
            return r < 0 ? r : 0;
    }
    if ((r = try_dir(buf, len, FUNK_DNN_INSTALL_MODEL_DIR)) != 0)
        return r < 0 ? r : 0;
    if (*prefix) {
        snprintf(dir, sizeof(dir), "%s/../.cache/models", prefix);
        if ((r = try_dir(buf, len, dir)) != 0)
            return r < 0 ? r : 0;
    }
    if ((r = try_dir(buf, len, FUNK_DNN_SOURCE_MODEL_DIR)) != 0)
        return r < 0 ? r : 0;
    return -ENOENT;
}

/* ---- model set-up -------------------------------------------------------------------------- */

static int read_file(const char *path, void **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    int rc = 0;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        rc = -EIO;
        goto out;
    }
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = -EIO;
        goto out;
    }
    buf = malloc((size_t)n + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        rc = -EIO;
        goto out;
    }
    buf[n] = '\0';
    *data = buf;
    *len = (size_t)n;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* Splits newline-separated labels (trailing empty lines dropped, CR stripped). */
static int set_labels(dnn_model *m, const char *text)
{
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, text, n + 1);
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += buf[i] == '\n';
    char **labels = calloc(count + 1, sizeof(*labels));
    if (!labels) {
        free(buf);
        return -ENOMEM;
    }
    size_t k = 0;
    for (char *line = buf; *line && k <= count;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[l - 1] = '\0';
        labels[k++] = line;
        if (!nl)
            break;
        line = nl + 1;
    }
    while (k && labels[k - 1][0] == '\0')
        k--;
    m->label_buf = buf;
    m->labels = labels;
    m->n_labels = k;
    return 0;
}

/* "a" or "a,b,c" into three floats. */
static int parse_triple(const char *s, float v[3])
{
    char *end;
    for (int i = 0; i < 3; i++) {
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || errno || !isfinite(d))
            return -EINVAL;
        v[i] = (float)d;
        if (i == 0 && *end == '\0') {
            v[1] = v[2] = v[0];
            return 0;
        }
        if (i < 2) {
            if (*end != ',')
                return -EINVAL;
            s = end + 1;
        }
    }
    return *end == '\0' ? 0 : -EINVAL;
}

/* ONNX files are a protobuf ModelProto; every exporter writes ir_version (field 1, varint)
 * first, so the first byte is 0x08. Anything else is another format: -ENOTSUP. */
static int looks_like_onnx(const void *data, size_t len)
{
    return len >= 2 && ((const unsigned char *)data)[0] == 0x08;
}

/* A model's name in logs: its file, else the resource's path. Asked only on failure: for a
 * buffer resource the runtime makes that path by copying the bytes into a memfd. */
static const char *model_name(const char *what, const funk_accel_resource *r)
{
    const char *p = what ? what : funk_accel_resource_path(r);
    return p ? p : "(buffer)";
}

/* what: the file the bytes came from; NULL for resource r. */
static int model_load(dnn_ctx *ctx, const void *data, size_t len, const char *what,
                      const funk_accel_resource *r, dnn_model **out)
{
    if (!looks_like_onnx(data, len)) {
        LOG(ctx, FUNK_LOG_WARN, "model %s: not an ONNX model (%zu bytes): declined",
            model_name(what, r), len);
        return -ENOTSUP;
    }
    dnn_model *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    char err[256] = "";
    int rc = dnn_cv_net_load(&m->net, data, len, ctx->target, err, sizeof(err));
    if (rc < 0) {
        LOG(ctx, FUNK_LOG_ERROR, "model %s: cannot load (%s): %s", model_name(what, r),
            strerror(-rc), err[0] ? err : "unknown reason");
        model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static void centernet_pre(dnn_model *m)
{
    m->kind = DNN_KIND_CENTERNET;
    m->pre = (dnn_cv_pre){
        .w = CENTERNET_SIZE, .h = CENTERNET_SIZE, .rgb = 1, .scale = {1, 1, 1}, .mean = {0, 0, 0}};
}

static int load_default_labels(dnn_ctx *ctx, dnn_model *m, const char *dir)
{
    char path[PATH_MAX + 32];
    void *text = NULL;
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, DEFAULT_LABELS);
    int rc = read_file(path, &text, &len);
    if (rc < 0) {
        LOG(ctx, FUNK_LOG_WARN, "labels %s: %s: classes reported by number", path, strerror(-rc));
        return 0;
    }
    rc = set_labels(m, text);
    free(text);
    return rc;
}

static int default_model(dnn_ctx *ctx, dnn_model **out)
{
    int rc = 0;
    pthread_mutex_lock(&ctx->lock);
    if (ctx->def)
        goto out;
    char dir[PATH_MAX], path[PATH_MAX + 32];
    rc = dnn_model_dir(dir, sizeof(dir));
    if (rc < 0) {
        LOG(ctx, FUNK_LOG_ERROR,
            "default model %s not found (FUNK_MODEL_DIR, <prefix>/share/funk/models, "
            ".cache/models): run scripts/models.sh",
            DEFAULT_MODEL);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, DEFAULT_MODEL);
    void *data = NULL;
    size_t len = 0;
    rc = read_file(path, &data, &len);
    if (rc < 0) {
        LOG(ctx, FUNK_LOG_ERROR, "default model %s: %s", path, strerror(-rc));
        goto out;
    }
    dnn_model *m = NULL;
    rc = model_load(ctx, data, len, path, NULL, &m);
    free(data);
    if (rc == -ENOTSUP)
        rc = -EBADMSG; /* our own default model must be ONNX: it is corrupt */
    if (rc < 0)
        goto out;
    centernet_pre(m);
    rc = load_default_labels(ctx, m, dir);
    if (rc < 0) {
        model_free(m);
        goto out;
    }
    LOG(ctx, FUNK_LOG_INFO, "default model %s loaded (%zu labels)", path, m->n_labels);
    ctx->def = m;
out:
    if (rc == 0)
        *out = ctx->def;
    pthread_mutex_unlock(&ctx->lock);
    return rc;
}

/* Reads the resource's attributes (see include/funk/accel.h) into the model. */
static int apply_attrs(dnn_ctx *ctx, dnn_model *m, const funk_accel_resource *r)
{
    const char *kind = funk_accel_resource_get_attr(r, "kind");
    const char *layout = funk_accel_resource_get_attr(r, "layout");
    const char *v;
    if (layout && strcmp(layout, "nchw") != 0) {
        LOG(ctx, FUNK_LOG_WARN, "model layout '%s' not supported (nchw only): declined", layout);
        return -ENOTSUP;
    }
    if (!kind) {
        /* our converter names the CenterNet outputs keypoints + wh */
        kind = dnn_cv_net_has_output(m->net, "keypoints") && dnn_cv_net_has_output(m->net, "wh")
                   ? "centernet"
                   : "classifier";
    }
    if (strcmp(kind, "centernet") == 0) {
        centernet_pre(m);
    } else if (strcmp(kind, "classifier") == 0) {
        m->kind = DNN_KIND_CLASSIFIER;
        m->pre = (dnn_cv_pre){.rgb = 1, .scale = {1, 1, 1}, .mean = {0, 0, 0}};
        v = funk_accel_resource_get_attr(r, "input");
        char x;
        int end = 0;
        if (!v || sscanf(v, "%d%c%d%n", &m->pre.w, &x, &m->pre.h, &end) != 3 || v[end] != '\0' ||
            (x != 'x' && x != 'X') || m->pre.w <= 0 || m->pre.h <= 0 || m->pre.w > 8192 ||
            m->pre.h > 8192) {
            LOG(ctx, FUNK_LOG_ERROR, "classifier model: attribute input='WxH' missing or bad (%s)",
                v ? v : "unset");
            return -EINVAL;
        }
        if ((v = funk_accel_resource_get_attr(r, "scale")) && parse_triple(v, m->pre.scale) < 0) {
            LOG(ctx, FUNK_LOG_ERROR, "classifier model: bad scale '%s' (s or r,g,b)", v);
            return -EINVAL;
        }
        if ((v = funk_accel_resource_get_attr(r, "mean")) && parse_triple(v, m->pre.mean) < 0) {
            LOG(ctx, FUNK_LOG_ERROR, "classifier model: bad mean '%s' (r,g,b)", v);
            return -EINVAL;
        }
    } else {
        LOG(ctx, FUNK_LOG_WARN, "model kind '%s' not supported (centernet|classifier): declined",
            kind);
        return -ENOTSUP;
    }
    if ((v = funk_accel_resource_get_attr(r, "channels"))) {
        if (strcmp(v, "rgb") == 0) {
            m->pre.rgb = 1;
        } else if (strcmp(v, "bgr") == 0) {
            m->pre.rgb = 0;
        } else {
            LOG(ctx, FUNK_LOG_ERROR, "model: bad channels '%s' (rgb|bgr)", v);
            return -EINVAL;
        }
    }
    if ((v = funk_accel_resource_get_attr(r, "softmax"))) {
        if (strcmp(v, "auto") == 0)
            m->softmax = DNN_SOFTMAX_AUTO;
        else if (strcmp(v, "yes") == 0)
            m->softmax = DNN_SOFTMAX_YES;
        else if (strcmp(v, "no") == 0)
            m->softmax = DNN_SOFTMAX_NO;
        else {
            LOG(ctx, FUNK_LOG_ERROR, "model: bad softmax '%s' (auto|yes|no)", v);
            return -EINVAL;
        }
    }
    if ((v = funk_accel_resource_get_attr(r, "labels")))
        return set_labels(m, v);
    if (m->kind == DNN_KIND_CENTERNET) {
        char dir[PATH_MAX];
        if (dnn_model_dir(dir, sizeof(dir)) == 0)
            return load_default_labels(ctx, m, dir);
    }
    return 0;
}

static int resource_model(dnn_ctx *ctx, const funk_accel_call *c, funk_accel_resource *r,
                          dnn_model **out)
{
    if (funk_accel_resource_get_type(r) != FUNK_ACCEL_RES_MODEL) {
        LOG(ctx, FUNK_LOG_ERROR, "resource is not a MODEL");
        return -EINVAL;
    }
    dnn_model *m = funk_accel_resource_slot_get(r, c);
    if (m) {
        *out = m;
        return 0;
    }
    const void *data;
    size_t len;
    int rc = funk_accel_resource_data(r, &data, &len);
    if (rc < 0)
        return rc;
    const char *fmt = funk_accel_resource_get_attr(r, "format");
    if (fmt && strcmp(fmt, "onnx") != 0) {
        LOG(ctx, FUNK_LOG_WARN, "model format '%s' not supported (onnx only): declined", fmt);
        return -ENOTSUP;
    }
    rc = model_load(ctx, data, len, NULL, r, &m);
    if (rc < 0)
        return rc;
    rc = apply_attrs(ctx, m, r);
    if (rc < 0) {
        model_free(m);
        return rc;
    }
    dnn_model *won = funk_accel_resource_slot_set(r, c, m);
    if (won != m)
        model_free(m);
    *out = won;
    return 0;
}

static int get_model(dnn_ctx *ctx, const funk_accel_call *c, funk_accel_resource *r,
                     dnn_model **out)
{
    return r ? resource_model(ctx, c, r, out) : default_model(ctx, out);
}

/* ---- post-processing ----------------------------------------------------------------------- */

typedef struct scored {
    float score;
    int32_t cls;
    int32_t pos; /* detections: index into the score map plane */
} scored;

static int by_score_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    if (x->cls != y->cls)
        return x->cls < y->cls ? -1 : 1;
    return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

static void put_label(const dnn_model *m, int32_t cls, float score, funk_accel_label *l)
{
    memset(l, 0, sizeof(*l));
    if (cls >= 0 && (size_t)cls < m->n_labels && m->labels[cls][0])
        snprintf(l->label, sizeof(l->label), "%s", m->labels[cls]);
    else
        snprintf(l->label, sizeof(l->label), "class %d", (int)cls);
    l->class_id = cls;
    l->score = score;
}

/* Turns raw classifier outputs into 0..1 scores: logits get a softmax (see docs/models.md). */
static void to_probabilities(dnn_softmax mode, float *v, size_t n)
{
    int in_unit = 1;
    for (size_t i = 0; i < n; i++)
        in_unit &= v[i] >= 0.0f && v[i] <= 1.0f;
    if (mode == DNN_SOFTMAX_NO || (mode == DNN_SOFTMAX_AUTO && in_unit))
        return; /* already probabilities (softmax or independent sigmoid scores) */
    float mx = v[0];
    for (size_t i = 1; i < n; i++)
        mx = v[i] > mx ? v[i] : mx;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = expf(v[i] - mx);
        total += v[i];
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(v[i] / total);
}

static int topk(const dnn_model *m, scored *s, size_t n, funk_accel_label *out, size_t max)
{
    qsort(s, n, sizeof(*s), by_score_desc);
    size_t k = n < max ? n : max;
    for (size_t i = 0; i < k; i++)
        put_label(m, s[i].cls, s[i].score, &out[i]);
    return (int)k;
}

static int forward(dnn_ctx *ctx, dnn_model *m, const void *image, size_t len,
                   const char *const *names, size_t n_names, dnn_cv_tensor *t, size_t n_t,
                   int *locked)
{
    dnn_cv_blob *blob = NULL;
    image_rgb img;
    int rc = image_decode(image, len, &img);
    if (rc < 0) {
        if (rc == -EBADMSG)
            LOG(ctx, FUNK_LOG_WARN, "input (%zu bytes) is not a decodable JPEG/PNG image", len);
        return rc;
    }
    rc = dnn_cv_blob_from_rgb(img.rgb, img.w, img.h, &m->pre, &blob);
    image_free(&img);
    if (rc < 0)
        return rc;
    char err[256] = "";
    pthread_mutex_lock(&m->lock);
    *locked = 1;
    rc = dnn_cv_forward(m->net, blob, names, n_names, t, n_t, err, sizeof(err));
    dnn_cv_blob_free(blob);
    if (rc < 0)
        LOG(ctx, FUNK_LOG_ERROR, "inference failed: %s", err[0] ? err : strerror(-rc));
    return rc;
}

static const char *const centernet_outputs[] = {"keypoints", "wh"};

static int check_centernet(dnn_ctx *ctx, const dnn_cv_tensor *t)
{
    if (t[0].dims != 4 || t[1].dims != 4 || t[1].shape[1] != 4 || t[0].shape[0] != 1 ||
        t[0].shape[2] != t[1].shape[2] || t[0].shape[3] != t[1].shape[3]) {
        LOG(ctx, FUNK_LOG_ERROR, "centernet outputs have unexpected shapes");
        return -EBADMSG;
    }
    return 0;
}

static int classify_centernet(dnn_ctx *ctx, dnn_model *m, const dnn_cv_tensor *t,
                              funk_accel_label *out, size_t max)
{
    if (check_centernet(ctx, t) < 0)
        return -EBADMSG;
    size_t classes = (size_t)t[0].shape[1], plane = (size_t)t[0].shape[2] * t[0].shape[3];
    scored *s = malloc(classes * sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t c = 0; c < classes; c++) {
        const float *p = t[0].data + c * plane;
        float best = p[0];
        for (size_t i = 1; i < plane; i++)
            best = p[i] > best ? p[i] : best;
        s[c] = (scored){best, (int32_t)c, 0};
    }
    int n = topk(m, s, classes, out, max);
    free(s);
    return n;
}

static float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

static int detect_centernet(dnn_ctx *ctx, dnn_model *m, const dnn_cv_tensor *t, float thr,
                            funk_accel_detection *out, size_t max)
{
    if (check_centernet(ctx, t) < 0)
        return -EBADMSG;
    int classes = t[0].shape[1], H = t[0].shape[2], W = t[0].shape[3];
    size_t plane = (size_t)H * W;
    float sx = (float)m->pre.w / (float)W, sy = (float)m->pre.h / (float)H;
    size_t cap = 64, n = 0;
    scored *s = malloc(cap * sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (int c = 0; c < classes; c++) {
        const float *p = t[0].data + (size_t)c * plane;
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                float v = p[(size_t)y * W + x];
                if (v < thr)
                    continue;
                /* a peak equals the 3x3 max-pool of the map at its place */
                int peak = 1;
                for (int dy = -1; dy <= 1 && peak; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy, xx = x + dx;
                        if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                            continue;
                        if (p[(size_t)yy * W + xx] > v) {
                            peak = 0;
                            break;
                        }
                    }
                if (!peak)
                    continue;
                if (n == cap) {
                    scored *g = realloc(s, 2 * cap * sizeof(*s));
                    if (!g) {
                        free(s);
                        return -ENOMEM;
                    }
                    s = g;
                    cap *= 2;
                }
                s[n++] = (scored){v, c, y * W + x};
            }
        }
    }
    qsort(s, n, sizeof(*s), by_score_desc);
    size_t k = n < max ? n : max;
    for (size_t i = 0; i < k; i++) {
        size_t pos = (size_t)s[i].pos;
        float cx = (float)(pos % W) * sx, cy = (float)(pos / W) * sy;
        const float *wh = t[1].data;
        float x1 = clamp01((cx - wh[pos]) / m->pre.w);
        float y1 = clamp01((cy - wh[plane + pos]) / m->pre.h);
        float x2 = clamp01((cx + wh[2 * plane + pos]) / m->pre.w);
        float y2 = clamp01((cy + wh[3 * plane + pos]) / m->pre.h);
        put_label(m, s[i].cls, s[i].score, &out[i].label);
        out[i].x = x1;
        out[i].y = y1;
        out[i].w = x2 > x1 ? x2 - x1 : 0.0f;
        out[i].h = y2 > y1 ? y2 - y1 : 0.0f;
    }
    free(s);
    return (int)k;
}

static int classify_generic(dnn_ctx *ctx, dnn_model *m, const dnn_cv_tensor *t,
                            funk_accel_label *out, size_t max)
{
    size_t n = t[0].count;
    if (n == 0 || n > (1u << 24)) {
        LOG(ctx, FUNK_LOG_ERROR, "classifier output has %zu values", n);
        return -EBADMSG;
    }
    if (m->n_labels && m->n_labels != n)
        LOG(ctx, FUNK_LOG_DEBUG, "classifier has %zu outputs but %zu labels", n, m->n_labels);
    float *v = malloc(n * sizeof(*v));
    scored *s = malloc(n * sizeof(*s));
    int rc = -ENOMEM;
    if (!v || !s)
        goto out;
    memcpy(v, t[0].data, n * sizeof(*v));
    to_probabilities(m->softmax, v, n);
    for (size_t i = 0; i < n; i++)
        s[i] = (scored){v[i], (int32_t)i, 0};
    rc = topk(m, s, n, out, max);
out:
    free(v);
    free(s);
    return rc;
}

/* ---- entry points -------------------------------------------------------------------------- */

int dnn_classify(dnn_ctx *ctx, const funk_accel_call *c, funk_accel_resource *model,
                 const void *image, size_t image_len, funk_accel_label *out, size_t max)
{
    dnn_model *m;
    int rc = get_model(ctx, c, model, &m);
    if (rc < 0)
        return rc;
    dnn_cv_tensor t[2];
    int locked = 0;
    if (m->kind == DNN_KIND_CENTERNET) {
        rc = forward(ctx, m, image, image_len, centernet_outputs, 2, t, 2, &locked);
        if (rc >= 0)
            rc = classify_centernet(ctx, m, t, out, max);
    } else {
        rc = forward(ctx, m, image, image_len, NULL, 0, t, 1, &locked);
        if (rc >= 0)
            rc = classify_generic(ctx, m, t, out, max);
    }
    if (locked)
        pthread_mutex_unlock(&m->lock);
    return rc;
}

int dnn_detect(dnn_ctx *ctx, const funk_accel_call *c, funk_accel_resource *model,
               const void *image, size_t image_len, uint32_t min_score_pct,
               funk_accel_detection *out, size_t max)
{
    if (min_score_pct > 100)
        return -EINVAL;
    dnn_model *m;
    int rc = get_model(ctx, c, model, &m);
    if (rc < 0)
        return rc;
    if (m->kind != DNN_KIND_CENTERNET) {
        LOG(ctx, FUNK_LOG_WARN, "detect needs a centernet model; this one is a classifier");
        return -ENOTSUP;
    }
    float thr = (float)(min_score_pct ? min_score_pct : DNN_DEFAULT_MIN_SCORE_PCT) / 100.0f;
    dnn_cv_tensor t[2];
    int locked = 0;
    rc = forward(ctx, m, image, image_len, centernet_outputs, 2, t, 2, &locked);
    if (rc >= 0)
        rc = detect_centernet(ctx, m, t, thr, out, max);
    if (locked)
        pthread_mutex_unlock(&m->lock);
    return rc;
}
