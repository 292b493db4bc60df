/* SPDX-License-Identifier: Apache-2.0 */
/* noop plugin: every operation answered deterministically (checkable results, no device). */
#include <funk/accel_plugin.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* FNV-1a: the same input bytes always give the same labels. */
static uint64_t fnv1a(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int noop_noop(const funk_accel_call *c)
{
    (void)c;
    return 0;
}

/* Copies input i to output i; the call fails with -ENOSPC when an output is too small. */
static int echo(const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out)
{
    size_t n = n_in < n_out ? n_in : n_out;
    for (size_t i = 0; i < n; i++) {
        if (out[i].size < in[i].size) {
            out[i].used = in[i].size; /* how much was needed */
            return -ENOSPC;
        }
        memcpy(out[i].data, in[i].data, in[i].size);
        out[i].used = in[i].size;
    }
    return (int)n;
}

static int noop_exec(const funk_accel_call *c, funk_accel_resource *library, const char *symbol,
                     const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out)
{
    (void)c;
    (void)library;
    (void)symbol;
    int rc = echo(in, n_in, out, n_out);
    return rc < 0 ? rc : 0;
}

/* Naive reference product so that results are checkable. */
static int noop_sgemm(const funk_accel_call *c, int m, int n, int k, float alpha, const float *a,
                      int lda, const float *b, int ldb, float beta, float *cm, int ldc)
{
    (void)c;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int p = 0; p < k; p++)
                acc +=
                    a[(size_t)i * (size_t)lda + (size_t)p] * b[(size_t)p * (size_t)ldb + (size_t)j];
            float *dst = &cm[(size_t)i * (size_t)ldc + (size_t)j];
            *dst = alpha * acc + (beta == 0.0f ? 0.0f : beta * *dst);
        }
    }
    return 0;
}

#define NOOP_RESULTS 5

/* Result i: label "noopNNN" with NNN taken from the input's hash, score falling with i. */
static void make_label(uint64_t h, size_t i, funk_accel_label *l)
{
    uint64_t x = h ^ (0x9e3779b97f4a7c15ULL * (i + 1));
    x ^= x >> 29;
    l->class_id = (int32_t)(x % 1000);
    snprintf(l->label, sizeof(l->label), "noop%03d", (int)l->class_id);
    l->score = 0.9f - 0.15f * (float)i;
}

static int noop_classify(const funk_accel_call *c, funk_accel_resource *model, const void *image,
                         size_t image_len, funk_accel_label *out, size_t max)
{
    (void)c;
    (void)model;
    uint64_t h = fnv1a(image, image_len);
    size_t n = max < NOOP_RESULTS ? max : NOOP_RESULTS;
    for (size_t i = 0; i < n; i++)
        make_label(h, i, &out[i]);
    return (int)n;
}

static int noop_detect(const funk_accel_call *c, funk_accel_resource *model, const void *image,
                       size_t image_len, uint32_t min_score_pct, funk_accel_detection *out,
                       size_t max)
{
    (void)c;
    (void)model;
    uint64_t h = fnv1a(image, image_len);
    float min = (float)(min_score_pct ? min_score_pct : 30) / 100.0f;
    size_t n = 0;
    for (size_t i = 0; i < NOOP_RESULTS && n < max; i++) {
        funk_accel_detection d;
        make_label(h, i, &d.label);
        if (d.label.score < min)
            break;
        d.x = 0.1f * (float)i;
        d.y = 0.05f * (float)i;
        d.w = 0.25f;
        d.h = 0.5f;
        out[n++] = d;
    }
    return (int)n;
}

/* Generic operations: "echo" copies inputs to outputs and returns how many it copied. */
static int noop_op(const funk_accel_call *c, const char *name, const funk_accel_arg *in,
                   size_t n_in, funk_accel_arg *out, size_t n_out)
{
    (void)c;
    if (!strcmp(name, "echo"))
        return echo(in, n_in, out, n_out);
    if (!strcmp(name, "noop"))
        return 0;
    return -ENOENT;
}

/* Model runs: every model is the identity (output i is input i), so transports can be checked
 * byte for byte without a framework. */
static int noop_model_run(const funk_accel_call *c, funk_accel_resource *model,
                          const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                          size_t n_out)
{
    (void)c;
    (void)model;
    if (n_out > n_in)
        return -EINVAL;
    int rc = 0;
    for (size_t i = 0; i < n_out; i++) {
        void *d;
        int orc = funk_accel_tensor_output(&out[i], in[i].dtype, in[i].rank, in[i].shape, &d);
        if (orc == 0)
            memcpy(d, in[i].data, in[i].size);
        else if (rc == 0 || rc == -ENOSPC)
            rc = orc; /* the other outputs still get their shapes */
    }
    return rc;
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 0, .name = "noop", .version = "0.1.0",
                         .description = "deterministic answers for every operation (tests)",
                         .noop = noop_noop, .exec = noop_exec, .sgemm = noop_sgemm,
                         .image_classify = noop_classify, .image_detect = noop_detect,
                         .op = noop_op, .model_run = noop_model_run);
