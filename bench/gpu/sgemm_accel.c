/* SPDX-License-Identifier: Apache-2.0 */
/* sgemm through funk_accel_sgemm on whatever FUNK_ACCEL_PLUGINS loads (cpu, opencl, cuda). */
#include <funk/accel.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    int n, iters;
    if (bench_args(argc, argv, &n, &iters) < 0)
        return 2;
    const char *plugins = getenv("FUNK_ACCEL_PLUGINS");
    int rc = funk_accel_init(NULL);
    if (rc < 0) {
        fprintf(stderr, "sgemm-accel: init (%s): %s\n", plugins ? plugins : "default",
                funk_accel_strerror(rc));
        return 1;
    }
    /* Only a plugin that is really there may be measured: a silent fallback would lie. */
    funk_accel_plugin_info info[16];
    int np = funk_accel_plugins(info, 16), best = -1;
    for (int i = 0; i < np && i < 16; i++)
        if (info[i].available && (info[i].ops & (1u << FUNK_ACCEL_OP_SGEMM)) &&
            (best < 0 || info[i].priority > info[best].priority))
            best = i;
    if (best < 0) {
        fprintf(stderr, "sgemm-accel: no available plugin implements sgemm\n");
        return 77;
    }
    fprintf(stderr, "sgemm-accel: dispatching to %s: %s\n", info[best].name,
            info[best].description);
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float));
    float *c = malloc(nn * sizeof(float));
    double *ms = calloc((size_t)iters, sizeof(double));
    funk_accel_session *s = NULL;
    if (!a || !b || !c || !ms || funk_accel_session_new(&s) < 0) {
        fprintf(stderr, "sgemm-accel: out of memory\n");
        return 1;
    }
    bench_fill(a, nn, 1);
    bench_fill(b, nn, 2);
    /* Warm-up: session buffers grow and any lazy kernel build happens here, not timed. */
    for (int w = 0; w < 2; w++)
        if ((rc = funk_accel_sgemm(s, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n)) < 0) {
            fprintf(stderr, "sgemm-accel: %s\n", funk_accel_strerror(rc));
            return 1;
        }
    for (int i = 0; i < iters; i++) {
        double t0 = bench_now_ms();
        rc = funk_accel_sgemm(s, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        ms[i] = bench_now_ms() - t0;
        if (rc < 0) {
            fprintf(stderr, "sgemm-accel: %s\n", funk_accel_strerror(rc));
            return 1;
        }
    }
    char what[64];
    snprintf(what, sizeof(what), "accel-%s", info[best].name);
    bench_report(what, n, ms, iters);
    funk_accel_session_delete(s);
    funk_accel_fini();
    free(a), free(b), free(c), free(ms);
    return 0;
}
