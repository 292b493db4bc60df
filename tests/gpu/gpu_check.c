/* SPDX-License-Identifier: Apache-2.0 */
/* gpu-check: drives the opencl/cuda plugins through the public API for the gpu test suite. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <funk/accel.h>

/* Exit codes understood by meson: 0 pass, 1 fail, 77 skip. */
enum { PASS = 0, FAIL = 1, SKIP = 77 };

static void usage(void)
{
    fprintf(stderr,
            "usage: gpu-check [KEY=VALUE...] sgemm PLUGIN [FALLBACK]   sgemm cases vs a naive reference on PLUGIN\n"
            "                                            (skips with 77 when PLUGIN has no device)\n"
            "       gpu-check fallback PLUGIN FALLBACK   PLUGIN must report -ENODEV; sgemm still\n"
            "                                            works through FALLBACK\n"
            "       gpu-check detect PLUGIN IMAGE        print lines: det score x y w h label\n"
            "       gpu-check op PLUGIN NAME             print the text a generic op returns\n");
}

/* Initialises the runtime with "plugin[:fallback]" and returns 0 when plugin is loaded and
 * available, -ENODEV when it loaded but reported no device, or the error. */
static int load(const char *plugin, const char *fallback)
{
    char list[512];
    snprintf(list, sizeof(list), "%s%s%s", plugin, fallback ? ":" : "", fallback ? fallback : "");
    int rc = funk_accel_init(list);
    if (rc < 0) {
        fprintf(stderr, "gpu-check: funk_accel_init(\"%s\"): %s\n", list, funk_accel_strerror(rc));
        return rc == -ENODEV ? -EIO : rc;
    }
    funk_accel_plugin_info info[16];
    int n = funk_accel_plugins(info, 16);
    for (int i = 0; i < n && i < 16; i++) {
        fprintf(stderr, "     plugin %-8s priority %3d %-13s %s\n", info[i].name, info[i].priority,
               info[i].available ? "available" : "[unavailable]", info[i].description);
    }
    for (int i = 0; i < n && i < 16; i++)
        if (strcmp(info[i].name, plugin) == 0)
            return info[i].available ? 0 : -ENODEV;
    fprintf(stderr, "gpu-check: plugin '%s' is not in the loaded list\n", plugin);
    return -ENOENT;
}

/* ---- sgemm -------------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static float rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct gemm_case {
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
} gemm_case;

#define PAD_MARK 12345.0f

/* One case against a double-precision reference; also checks that C's row padding is left
 * alone and that beta = 0 ignores what C held (NaN). */
static int run_case(funk_accel_session *s, const gemm_case *t)
{
    size_t na = (size_t)t->m * t->lda, nb = (size_t)t->k * t->ldb, nc = (size_t)t->m * t->ldc;
    float *a = malloc(na * sizeof(float)), *b = malloc(nb * sizeof(float));
    float *c = malloc(nc * sizeof(float)), *c0 = malloc(nc * sizeof(float));
    int result = FAIL;
    if (!a || !b || !c || !c0) {
        fprintf(stderr, "gpu-check: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < na; i++)
        a[i] = rnd();
    for (size_t i = 0; i < nb; i++)
        b[i] = rnd();
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < t->ldc; j++)
            c0[(size_t)i * t->ldc + j] =
                j >= t->n ? PAD_MARK : (t->beta == 0.0f ? NAN : rnd());
    memcpy(c, c0, nc * sizeof(float));
    int rc = funk_accel_sgemm(s, t->m, t->n, t->k, t->alpha, a, t->lda, b, t->ldb, t->beta, c,
                              t->ldc);
    if (rc != 0) {
        fprintf(stderr, "FAIL sgemm m=%d n=%d k=%d: %s\n", t->m, t->n, t->k,
                funk_accel_strerror(rc));
        goto out;
    }
    double worst = 0;
    for (int i = 0; i < t->m; i++) {
        for (int j = 0; j < t->ldc; j++) {
            float got = c[(size_t)i * t->ldc + j];
            if (j >= t->n) {
                if (got != PAD_MARK) {
                    fprintf(stderr, "FAIL m=%d n=%d k=%d: padding C[%d][%d] overwritten (%g)\n",
                            t->m, t->n, t->k, i, j, got);
                    goto out;
                }
                continue;
            }
            double ref = 0, mag = 0;
            for (int p = 0; p < t->k; p++) {
                double x = (double)a[(size_t)i * t->lda + p] * b[(size_t)p * t->ldb + j];
                ref += x;
                mag += fabs(x);
            }
            ref *= t->alpha;
            mag *= fabs(t->alpha);
            if (t->beta != 0.0f) {
                ref += (double)t->beta * c0[(size_t)i * t->ldc + j];
                mag += fabs((double)t->beta * c0[(size_t)i * t->ldc + j]);
            }
            /* fp32 accumulation error grows with the magnitudes summed. */
            double err = fabs(got - ref) / (mag + 1e-6);
            if (!(err <= 1e-5 * (1 + sqrt((double)t->k)))) {
                fprintf(stderr, "FAIL m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g: "
                        "C[%d][%d] = %.7g, reference %.7g\n",
                        t->m, t->n, t->k, t->lda, t->ldb, t->ldc, t->alpha, t->beta, i, j, got,
                        ref);
                goto out;
            }
            if (err > worst)
                worst = err;
        }
    }
    printf("ok   sgemm m=%-4d n=%-4d k=%-4d lda=%-4d ldb=%-4d ldc=%-4d alpha=%-5g beta=%-5g "
           "worst rel err %.2e\n",
           t->m, t->n, t->k, t->lda, t->ldb, t->ldc, t->alpha, t->beta, worst);
    result = PASS;
out:
    free(a), free(b), free(c), free(c0);
    return result;
}

static const gemm_case cases[] = {
    {1, 1, 1, 1, 1, 1, 1.0f, 0.0f},
    {7, 5, 3, 3, 5, 5, 1.0f, 0.0f},
    {33, 17, 65, 65, 17, 17, 0.5f, 2.0f},
    {64, 64, 64, 64, 64, 64, 1.0f, 1.0f},
    {31, 45, 29, 40, 50, 47, -1.5f, 0.25f}, /* every leading dimension padded */
    {129, 257, 65, 65, 300, 260, 1.0f, 0.0f},
    {300, 200, 513, 513, 200, 201, 2.0f, -1.0f},
    {511, 385, 256, 256, 385, 385, 1.0f, 0.0f}, /* big enough for CLBlast's indirect kernel */
    {1, 1000, 300, 300, 1000, 1000, 1.0f, 0.5f},
    {1000, 1, 300, 300, 1, 1, 1.0f, 0.0f},
    {700, 700, 700, 700, 700, 700, 1.0f, 0.0f}, /* crosses the cuda staging threshold */
    {1200, 1030, 40, 44, 1030, 1033, 1.0f, 1.0f}, /* staged, padded C both ways */
    {2100, 1100, 64, 64, 1100, 1101, 1.0f, 0.5f}, /* C: two staging chunks, padded rows */
    {64, 9000, 300, 300, 9000, 9000, 1.0f, 0.0f},  /* B: two staging chunks, packed rows */
};

static int cmd_sgemm(const char *plugin, const char *fallback)
{
    int rc = load(plugin, fallback);
    if (rc == -ENODEV) {
        printf("SKIP: plugin '%s' reports no device here (-ENODEV): its sgemm is not tested\n",
               plugin);
        return SKIP;
    }
    if (rc < 0) {
        fprintf(stderr, "FAIL: loading plugin '%s': %s\n", plugin, funk_accel_strerror(rc));
        return FAIL;
    }
    funk_accel_session *s = NULL;
    if ((rc = funk_accel_session_new(&s)) < 0) {
        fprintf(stderr, "FAIL: session_new: %s\n", funk_accel_strerror(rc));
        return FAIL;
    }
    int result = PASS;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (run_case(s, &cases[i]) != PASS)
            result = FAIL;
    /* Same session again, smaller: buffers are reused (grow-only) and must not leak old data. */
    if (run_case(s, &cases[1]) != PASS || run_case(s, &cases[2]) != PASS)
        result = FAIL;
    funk_accel_session_delete(s);
    funk_accel_fini();
    printf("%s: sgemm on '%s'\n", result == PASS ? "PASS" : "FAIL", plugin);
    return result;
}

static int cmd_fallback(const char *plugin, const char *fallback)
{
    int rc = load(plugin, fallback);
    if (rc != -ENODEV) {
        fprintf(stderr, "FAIL: loading '%s' gave %d (%s), expected -ENODEV\n", plugin, rc,
                funk_accel_strerror(rc));
        return FAIL;
    }
    printf("ok   '%s' reports not available: %s\n", plugin, funk_accel_strerror(rc));
    funk_accel_session *s = NULL;
    if ((rc = funk_accel_session_new(&s)) < 0) {
        fprintf(stderr, "FAIL: session_new: %s\n", funk_accel_strerror(rc));
        return FAIL;
    }
    int result = run_case(s, &cases[2]) == PASS && run_case(s, &cases[4]) == PASS ? PASS : FAIL;
    funk_accel_session_delete(s);
    funk_accel_fini();
    printf("%s: sgemm falls back to '%s'\n", result == PASS ? "PASS" : "FAIL", fallback);
    return result;
}

/* ---- detect / generic op ------------------------------------------------------------------------ */

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    void *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
            fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = n > 0 ? (size_t)n : 0;
    }
    fclose(f);
    return buf;
}

static int cmd_detect(const char *plugin, const char *image)
{
    size_t len = 0;
    void *img = read_file(image, &len);
    if (!img) {
        fprintf(stderr, "FAIL: cannot read %s\n", image);
        return FAIL;
    }
    int rc = load(plugin, NULL), result = FAIL;
    funk_accel_session *s = NULL;
    if (rc < 0) {
        fprintf(stderr, "gpu-check: loading '%s': %s\n", plugin, funk_accel_strerror(rc));
        result = rc == -ENODEV ? SKIP : FAIL;
        goto out;
    }
    if ((rc = funk_accel_session_new(&s)) < 0)
        goto out;
    funk_accel_detection det[32];
    rc = funk_accel_image_detect(s, NULL, img, len, 0, det, 32);
    if (rc < 0) {
        fprintf(stderr, "gpu-check: detect on '%s': %s\n", plugin, funk_accel_strerror(rc));
        /* -ENOENT: the default model is absent (scripts/models.sh makes it) */
        result = rc == -ENOENT ? SKIP : FAIL;
        goto out;
    }
    for (int i = 0; i < rc; i++)
        printf("det %.4f %.4f %.4f %.4f %.4f %s\n", det[i].label.score, det[i].x, det[i].y,
               det[i].w, det[i].h, det[i].label.label);
    result = PASS;
out:
    if (s)
        funk_accel_session_delete(s);
    funk_accel_fini();
    free(img);
    return result;
}

static int cmd_op(const char *plugin, const char *name)
{
    int rc = load(plugin, NULL);
    if (rc < 0) {
        fprintf(stderr, "gpu-check: loading '%s': %s\n", plugin, funk_accel_strerror(rc));
        return rc == -ENODEV ? SKIP : FAIL;
    }
    funk_accel_session *s = NULL;
    if ((rc = funk_accel_session_new(&s)) < 0)
        return FAIL;
    char text[8192];
    funk_accel_arg out = FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_STRING, text, sizeof(text));
    rc = funk_accel_op(s, name, NULL, 0, &out, 1);
    /* A 4-byte buffer must be refused with -ENOSPC and the size needed. */
    char tiny[4];
    funk_accel_arg small = FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_STRING, tiny, sizeof(tiny));
    int rc_small = rc == 0 ? funk_accel_op(s, name, NULL, 0, &small, 1) : 0;
    /* No output argument at all: a clear -EINVAL, not a crash. */
    int rc_none = rc == 0 ? funk_accel_op(s, name, NULL, 0, NULL, 0) : -EINVAL;
    funk_accel_session_delete(s);
    funk_accel_fini();
    if (rc < 0) {
        fprintf(stderr, "FAIL: op %s: %s\n", name, funk_accel_strerror(rc));
        return FAIL;
    }
    fputs(text, stdout);
    if (rc_small != -ENOSPC || small.used != out.used) {
        fprintf(stderr, "FAIL: op %s into 4 bytes gave %d, used %zu (want -ENOSPC, %zu)\n", name,
                rc_small, small.used, out.used);
        return FAIL;
    }
    if (rc_none != -EINVAL) {
        fprintf(stderr, "FAIL: op %s without an output gave %d, want -EINVAL\n", name, rc_none);
        return FAIL;
    }
    return PASS;
}

/* PoCL compiles kernel variants lazily on its own worker threads, where the plugin cannot
 * bracket LSan; what LLVM keeps from that is process-lifetime state, not a leak of ours. */
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libpocl.so\nleak:libLLVM\nleak:libcuda.so\nleak:libcudart.so\nleak:libcublas\n";
}

#ifdef GPU_CHECK_NO_LEAK_CHECK
/* gpu-check-pocl: for runs that execute PoCL kernels. After PoCL has run kernels, gcc 12's
 * LSan finds a stale dynamic-TLS record on the main thread and its exit-time tracer crashes in
 * ~15% of runs ("Tracer caught signal 11", exit 1) whatever the program did. The opencl plugin
 * hides its OpenCL-facing allocations from LSan anyway (PoCL/LLVM keep process-lifetime state),
 * so leak checking is off here; ASan and UBSan stay on. */
__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "protect_shadow_gap=0:detect_leaks=0"; }
#else
/* CUDA maps device memory where ASan's shadow gap sits: let it (ASan builds only). */
__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "protect_shadow_gap=0"; }
#endif

int main(int argc, char **argv)
{
    /* Leading KEY=VALUE arguments set the environment before the runtime reads it. */
    while (argc > 1 && strchr(argv[1], '=') && argv[1][0] != '=') {
        char *eq = strchr(argv[1], '=');
        *eq = '\0';
        setenv(argv[1], eq + 1, 1);
        argv++, argc--;
    }
    if (argc >= 3 && strcmp(argv[1], "sgemm") == 0)
        return cmd_sgemm(argv[2], argc > 3 ? argv[3] : NULL);
    if (argc == 4 && strcmp(argv[1], "fallback") == 0)
        return cmd_fallback(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "detect") == 0)
        return cmd_detect(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "op") == 0)
        return cmd_op(argv[2], argv[3]);
    usage();
    return 2;
}
