/* SPDX-License-Identifier: Apache-2.0 */
/* bench/cpu: sgemm, classify, pose and segment through libfunk-accel vs the same work done
 * directly. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <funk/accel.h>

#include "direct.h"
#include "slurp.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct stats {
    double min, med, p99;
} stats;

static stats summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    int p = (int)(0.99 * (n - 1) + 0.5);
    return (stats){v[0], v[n / 2], v[p]};
}

static void row(const char *name, stats s, int n, const char *unit)
{
    printf("  %-40s %9.3f %9.3f %9.3f %5d  %s\n", name, s.min, s.med, s.p99, n, unit);
}

static int bench_sgemm(funk_accel_session *s, int dim, int iters)
{
    size_t nn = (size_t)dim * dim;
    float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float));
    float *c = malloc(nn * sizeof(float));
    double *ta = malloc(iters * sizeof(double)), *td = malloc(iters * sizeof(double));
    int rc = 0;
    if (!a || !b || !c || !ta || !td) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)(i % 17) / 17.0f;
        b[i] = (float)(i % 13) / 13.0f;
    }
    for (int i = 0; i < 3; i++) { /* warm-up: thread pool, page faults */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dim, dim, dim, 1, a, dim, b, dim, 0,
                    c, dim);
        rc = funk_accel_sgemm(s, dim, dim, dim, 1, a, dim, b, dim, 0, c, dim);
        if (rc < 0) {
            fprintf(stderr, "bench: funk_accel_sgemm: %s\n", funk_accel_strerror(rc));
            goto out;
        }
    }
    /* interleaved, alternating which goes first, so both see the same machine state */
    for (int i = 0; i < iters; i++) {
        for (int j = 0; j < 2; j++) {
            double t0 = now_ms();
            if ((i + j) % 2 == 0)
                rc = funk_accel_sgemm(s, dim, dim, dim, 1, a, dim, b, dim, 0, c, dim);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dim, dim, dim, 1, a, dim, b,
                            dim, 0, c, dim);
            double t = now_ms() - t0;
            if (rc < 0) { /* a failed call is not a fast one */
                fprintf(stderr, "bench: funk_accel_sgemm (timed loop): %s\n",
                        funk_accel_strerror(rc));
                goto out;
            }
            if ((i + j) % 2 == 0)
                ta[i] = t;
            else
                td[i] = t;
        }
    }
    stats sa = summarize(ta, iters), sd = summarize(td, iters);
    char name[64];
    snprintf(name, sizeof(name), "sgemm %d^3 funk_accel_sgemm (cpu)", dim);
    row(name, sa, iters, "ms");
    snprintf(name, sizeof(name), "sgemm %d^3 direct cblas_sgemm", dim);
    row(name, sd, iters, "ms");
    double gflop = 2.0 * dim * dim * (double)dim / 1e9;
    printf(
        "  => accel/direct ratio: median %.3f, min %.3f (target <= 1.05); %.1f vs %.1f GFLOP/s\n",
        sa.med / sd.med, sa.min / sd.min, gflop / (sa.med / 1e3), gflop / (sd.med / 1e3));
out:
    free(a);
    free(b);
    free(c);
    free(ta);
    free(td);
    return rc;
}

static int bench_classify(funk_accel_session *s, const char *model, const char *image, int iters,
                          int threads)
{
    size_t len;
    void *img = slurp(image, &len);
    if (!img) {
        fprintf(stderr, "bench: cannot read %s\n", image);
        return -ENOENT;
    }
    if (direct_init(model, threads) < 0) {
        fprintf(stderr, "bench: OpenCV cannot load %s\n", model);
        free(img);
        return -EBADMSG;
    }
    double *ta = malloc(iters * sizeof(double)), *td = malloc(iters * sizeof(double));
    funk_accel_label l[5];
    direct_label d[5];
    int rc = 0;
    if (!ta || !td) {
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        rc = funk_accel_image_classify(s, NULL, img, len, l, 5);
        if (rc < 0 || direct_classify(img, len, d, 5) < 0) {
            fprintf(stderr, "bench: classify failed: %s\n", funk_accel_strerror(rc));
            rc = rc < 0 ? rc : -EIO;
            goto out;
        }
    }
    if (l[0].class_id != d[0].cls) { /* same work or the comparison means nothing */
        fprintf(stderr, "bench: accel top-1 %d differs from direct top-1 %d\n", l[0].class_id,
                d[0].cls);
        rc = -EPROTO;
        goto out;
    }
    for (int i = 0; i < iters; i++) {
        for (int j = 0; j < 2; j++) {
            double t0 = now_ms();
            int got;
            if ((i + j) % 2 == 0)
                got = funk_accel_image_classify(s, NULL, img, len, l, 5);
            else
                got = direct_classify(img, len, d, 5);
            double t = now_ms() - t0;
            if (got < 1) { /* a failed call is not a fast one */
                fprintf(stderr, "bench: %s classify failed in the timed loop (%d)\n",
                        (i + j) % 2 == 0 ? "accel" : "direct", got);
                rc = got < 0 && (i + j) % 2 == 0 ? got : -EIO;
                goto out;
            }
            if ((i + j) % 2 == 0)
                ta[i] = t;
            else
                td[i] = t;
        }
    }
    stats sa = summarize(ta, iters), sd = summarize(td, iters);
    row("classify dog.jpg funk_accel_image_classify", sa, iters, "ms");
    row("classify dog.jpg direct OpenCV DNN (C++)", sd, iters, "ms");
    printf("  => accel/direct ratio: median %.3f, min %.3f (target <= 1.03); top-1 %s %.3f\n",
           sa.med / sd.med, sa.min / sd.min, l[0].label, l[0].score);
out:
    direct_fini();
    free(ta);
    free(td);
    free(img);
    return rc;
}

/* Pose and segmentation of a person photo: plugin vs direct OpenCV, interleaved. */
static int bench_vision(funk_accel_session *s, const char *dir, const char *image, int iters,
                        int threads)
{
    char pose_model[4200], seg_model[4200];
    snprintf(pose_model, sizeof(pose_model), "%s/movenet.onnx", dir);
    snprintf(seg_model, sizeof(seg_model), "%s/selfie.onnx", dir);
    size_t len;
    void *img = slurp(image, &len);
    if (!img) {
        fprintf(stderr, "bench: cannot read %s\n", image);
        return -ENOENT;
    }
    if (direct_vision_init(pose_model, seg_model, threads) < 0) {
        fprintf(stderr, "bench: OpenCV cannot load %s or %s (scripts/models.sh)\n", pose_model,
                seg_model);
        free(img);
        return -EBADMSG;
    }
    size_t cap = 4096u * 4096u;
    double *t[4] = {malloc(iters * sizeof(double)), malloc(iters * sizeof(double)),
                    malloc(iters * sizeof(double)), malloc(iters * sizeof(double))};
    unsigned char *ma = malloc(cap), *md = malloc(cap);
    funk_accel_keypoint k[FUNK_ACCEL_POSE_KEYPOINTS];
    float kd[17 * 3];
    int rc = 0, dw = 0, dh = 0;
    uint32_t w = 0, h = 0;
    if (!t[0] || !t[1] || !t[2] || !t[3] || !ma || !md) {
        rc = -ENOMEM;
        goto out;
    }
    /* warm-up, and the same work or the comparison means nothing */
    for (int i = 0; i < 2; i++) {
        w = h = 0;
        if ((rc = funk_accel_image_pose(s, img, len, k, FUNK_ACCEL_POSE_KEYPOINTS)) < 0 ||
            (rc = funk_accel_image_segment(s, img, len, ma, cap, &w, &h)) < 0 ||
            direct_pose(img, len, kd) < 0 || direct_segment(img, len, md, cap, &dw, &dh) < 0) {
            fprintf(stderr, "bench: pose/segment failed: %s\n", funk_accel_strerror(rc));
            rc = rc < 0 ? rc : -EIO;
            goto out;
        }
    }
    if (fabsf(k[0].x - kd[0]) > 0.02f || fabsf(k[0].y - kd[1]) > 0.02f || (int)w != dw ||
        (int)h != dh) {
        fprintf(stderr, "bench: plugin and direct disagree: nose %.3f,%.3f vs %.3f,%.3f\n", k[0].x,
                k[0].y, kd[0], kd[1]);
        rc = -EPROTO;
        goto out;
    }
    for (int i = 0; i < iters; i++) {
        for (int j = 0; j < 4; j++) {
            int which = (i + j) % 4; /* 0 pose accel, 1 pose direct, 2 seg accel, 3 seg direct */
            double t0 = now_ms();
            int got;
            w = h = 0;
            switch (which) {
            case 0:
                got = funk_accel_image_pose(s, img, len, k, FUNK_ACCEL_POSE_KEYPOINTS);
                break;
            case 1:
                got = direct_pose(img, len, kd);
                break;
            case 2:
                got = funk_accel_image_segment(s, img, len, ma, cap, &w, &h);
                break;
            default:
                got = direct_segment(img, len, md, cap, &dw, &dh);
                break;
            }
            t[which][i] = now_ms() - t0;
            if (got < 0) { /* a failed call is not a fast one */
                fprintf(stderr, "bench: vision call %d failed in the timed loop (%d)\n", which,
                        got);
                rc = -EIO;
                goto out;
            }
        }
    }
    stats pa = summarize(t[0], iters), pd = summarize(t[1], iters);
    stats sa = summarize(t[2], iters), sd = summarize(t[3], iters);
    row("pose person.jpg funk_accel_image_pose", pa, iters, "ms");
    row("pose person.jpg direct OpenCV DNN (C++)", pd, iters, "ms");
    printf("  => accel/direct ratio: median %.3f, min %.3f; nose %.3f,%.3f score %.2f\n",
           pa.med / pd.med, pa.min / pd.min, k[0].x, k[0].y, k[0].score);
    row("seg person.jpg funk_accel_image_segment", sa, iters, "ms");
    row("seg person.jpg direct OpenCV DNN (C++)", sd, iters, "ms");
    printf("  => accel/direct ratio: median %.3f, min %.3f; mask %dx%d\n", sa.med / sd.med,
           sa.min / sd.min, dw, dh);
out:
    direct_vision_fini();
    for (int i = 0; i < 4; i++)
        free(t[i]);
    free(ma);
    free(md);
    free(img);
    return rc;
}

int main(int argc, char **argv)
{
    int sgemm_iters = argc > 1 ? atoi(argv[1]) : 50;
    int cls_iters = argc > 2 ? atoi(argv[2]) : 30;
    const char *image = argc > 3 ? argv[3] : "/usr/share/darknet/data/dog.jpg";
    if (sgemm_iters < 1 || cls_iters < 1) {
        fprintf(stderr, "usage: %s [SGEMM_ITERS [CLASSIFY_ITERS [IMAGE]]]\n", argv[0]);
        return 2;
    }
    const char *dir = getenv("FUNK_MODEL_DIR");
    char model[4096];
    snprintf(model, sizeof(model), "%s/centernet.onnx", dir && *dir ? dir : ".cache/models");

    setenv("FUNK_ACCEL_PLUGINS", "cpu", 1);
    int rc = funk_accel_init(NULL);
    funk_accel_session *s = NULL;
    if (rc < 0 || (rc = funk_accel_session_new(&s)) < 0) {
        fprintf(stderr, "bench: libfunk-accel: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const char *tenv = getenv("FUNK_ACCEL_CPU_THREADS");
    int threads = tenv && atoi(tenv) > 0 ? atoi(tenv) : (int)(ncpu > 0 ? ncpu : 1);
    printf("  %-40s %9s %9s %9s %5s\n", "cpu plugin (interleaved, same process)", "min", "median",
           "p99", "N");
    rc = bench_sgemm(s, 1024, sgemm_iters);
    if (rc == 0)
        rc = bench_classify(s, model, image, cls_iters, threads);
    if (rc >= 0) /* bench_classify answers its last label count */
        rc = bench_vision(s, dir && *dir ? dir : ".cache/models",
                          "/usr/share/darknet/data/person.jpg", cls_iters, threads);
    funk_accel_session_delete(s);
    funk_accel_fini();
    return rc < 0 ? 1 : 0;
}
