/* SPDX-License-Identifier: Apache-2.0 */
/* bench/cpu: sgemm and classify through libfunk-accel vs the same work done directly. */
#include <errno.h>
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
    funk_accel_session_delete(s);
    funk_accel_fini();
    return rc < 0 ? 1 : 0;
}
