/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel layer vs funk's native API: noop and exec ns/op, batches interleaved A B A B. */
#include <vaccel.h>
#include <funk/accel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *v, double *f, int n)
{
    qsort(v, n, sizeof(*v), cmp);
    qsort(f, n, sizeof(*f), cmp);
    int p99 = n * 99 / 100;
    printf("%-6s vaccel  min %8.1f  median %8.1f  p99 %8.1f ns/op\n", what, v[0], v[n / 2], v[p99]);
    printf("%-6s funk    min %8.1f  median %8.1f  p99 %8.1f ns/op\n", what, f[0], f[n / 2], f[p99]);
    printf("%-6s ratio vaccel/funk (median) %.2f   N = %d batches\n", what, v[n / 2] / f[n / 2], n);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s BATCHES CALLS VACCEL_LIB FUNK_LIB FUNK_SYMBOL\n", argv[0]);
        return 2;
    }
    int batches = atoi(argv[1]), calls = atoi(argv[2]);
    if (batches < 2 || calls < 1)
        return 2;
    struct vaccel_session vs;
    funk_accel_session *fs;
    funk_accel_resource *lib;
    int rc;
    if ((rc = vaccel_session_init(&vs, 0)) || (rc = -funk_accel_session_new(&fs)) ||
        (rc = -funk_accel_resource_new_file(&lib, FUNK_ACCEL_RES_LIBRARY, argv[4])) ||
        (rc = -funk_accel_session_register(fs, lib))) {
        fprintf(stderr, "set-up failed: %d\n", rc);
        return 1;
    }
    double *v = calloc(batches, sizeof(double)), *f = calloc(batches, sizeof(double));
    for (int b = 0; b < batches; b++) {
        double t0 = now();
        for (int i = 0; i < calls; i++)
            rc |= vaccel_noop(&vs);
        double t1 = now();
        for (int i = 0; i < calls; i++)
            rc |= funk_accel_noop(fs);
        double t2 = now();
        v[b] = (t1 - t0) / calls;
        f[b] = (t2 - t1) / calls;
    }
    if (rc) {
        fprintf(stderr, "noop failed\n");
        return 1;
    }
    report("noop", v, f, batches);

    int32_t in = 10, out = 0, fin = 10, fout = 0;
    struct vaccel_arg_array r, w;
    vaccel_arg_array_init(&r, 1);
    vaccel_arg_array_init(&w, 1);
    vaccel_arg_array_add_int32(&r, &in);
    vaccel_arg_array_add_int32(&w, &out);
    funk_accel_arg a_in = FUNK_ACCEL_ARG_I32_OF(&fin), a_out = FUNK_ACCEL_ARG_I32_OF(&fout);
    int ecalls = calls / 10 ? calls / 10 : 1;
    for (int b = 0; b < batches; b++) {
        double t0 = now();
        for (int i = 0; i < ecalls; i++)
            rc |= vaccel_exec(&vs, argv[3], "mytestfunc", r.args, r.count, w.args, w.count);
        double t1 = now();
        for (int i = 0; i < ecalls; i++)
            rc |= funk_accel_exec(fs, lib, argv[5], &a_in, 1, &a_out, 1) < 0;
        double t2 = now();
        v[b] = (t1 - t0) / ecalls;
        f[b] = (t2 - t1) / ecalls;
    }
    if (rc || out != 20 || fout != 20) {
        fprintf(stderr, "exec failed: rc %d, outputs %d %d (want 20)\n", rc, out, fout);
        return 1;
    }
    report("exec", v, f, batches);
    vaccel_arg_array_release(&r);
    vaccel_arg_array_release(&w);
    funk_accel_resource_release(lib);
    funk_accel_session_delete(fs);
    vaccel_session_release(&vs);
    free(v);
    free(f);
    return 0;
}
