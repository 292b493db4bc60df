/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel-style sgemm program (plain call, or the genop form with "generic"), checked against a
 * naive multiply done here: prints "sgemm check: ok" or the first element that differs. */
#include "vaccel.h"
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ELEM_2D(array, i, j, ld) (*((array) + (ptrdiff_t)((i) * (ld)) + (j)))

enum { M = 96, N = 80, K = 64 };

static void init(int64_t m, int64_t n, int64_t k, float *A, float *B, float *C)
{
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k; ++j)
            ELEM_2D(A, i, j, k) = ((float)i * (float)j) / (float)m;
    for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < n; ++j)
            ELEM_2D(B, i, j, n) = ((float)i * (float)j) / (float)m;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
            ELEM_2D(C, i, j, n) = ((float)i * (float)j) / (float)m;
}

static int run_generic(struct vaccel_session *sess, float alpha, float *a, float *b, float beta,
                       float *c)
{
    int64_t m = M, n = N, k = K, lda = K, ldb = N, ldc = N;
    struct vaccel_arg_array read_args, write_args;
    int ret = vaccel_arg_array_init(&read_args, 11);
    if (ret)
        return ret;
    ret = vaccel_arg_array_init(&write_args, 1);
    if (ret) {
        vaccel_arg_array_release(&read_args);
        return ret;
    }
    const uint8_t op_type = (uint8_t)VACCEL_OP_BLAS_SGEMM;
    if ((ret = vaccel_arg_array_add_uint8(&read_args, (uint8_t *)&op_type)) ||
        (ret = vaccel_arg_array_add_int64(&read_args, &m)) ||
        (ret = vaccel_arg_array_add_int64(&read_args, &n)) ||
        (ret = vaccel_arg_array_add_int64(&read_args, &k)) ||
        (ret = vaccel_arg_array_add_float(&read_args, &alpha)) ||
        (ret = vaccel_arg_array_add_float_array(&read_args, a, (size_t)M * K)) ||
        (ret = vaccel_arg_array_add_int64(&read_args, &lda)) ||
        (ret = vaccel_arg_array_add_float_array(&read_args, b, (size_t)K * N)) ||
        (ret = vaccel_arg_array_add_int64(&read_args, &ldb)) ||
        (ret = vaccel_arg_array_add_float(&read_args, &beta)) ||
        (ret = vaccel_arg_array_add_int64(&read_args, &ldc)) ||
        (ret = vaccel_arg_array_add_float_array(&write_args, c, (size_t)M * N)))
        fprintf(stderr, "Failed to pack args\n");
    else
        ret = vaccel_genop(sess, read_args.args, (int)read_args.count, write_args.args,
                           (int)write_args.count);
    vaccel_arg_array_release(&write_args);
    vaccel_arg_array_release(&read_args);
    return ret;
}

int main(int argc, char *argv[])
{
    int ret;
    const float alpha = 1.5F, beta = 0.25F;
    static float a[M * K], b[K * N], c[M * N], ref[M * N];
    struct vaccel_session sess;
    struct vaccel_prof_region sgemm_stats = VACCEL_PROF_REGION_INIT("sgemm");
    const int generic = argc > 1 && strcmp(argv[1], "generic") == 0;

    init(M, N, K, a, b, c);
    for (int i = 0; i < M; i++) /* the reference, in double */
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int p = 0; p < K; p++)
                s += (double)ELEM_2D(a, i, p, K) * (double)ELEM_2D(b, p, j, N);
            ELEM_2D(ref, i, j, N) = (float)(alpha * s + beta * ELEM_2D(c, i, j, N));
        }

    ret = vaccel_session_init(&sess, 0);
    if (ret) {
        fprintf(stderr, "Could not initialize session\n");
        return ret;
    }
    printf("Initialized session with id: %" PRId64 "\n", sess.id);

    vaccel_prof_region_start(&sgemm_stats);
    if (generic)
        ret = run_generic(&sess, alpha, a, b, beta, c);
    else
        ret = vaccel_sgemm(&sess, M, N, K, alpha, a, K, b, N, beta, c, N);
    vaccel_prof_region_stop(&sgemm_stats);
    if (ret) {
        fprintf(stderr, "Could not run sgemm: %d\n", ret);
        goto release_session;
    }
    for (int i = 0; i < M * N; i++)
        if (fabsf(c[i] - ref[i]) > 1e-4F * fmaxf(1.0F, fabsf(ref[i]))) {
            printf("sgemm check: FAIL at %d: %g, want %g\n", i, (double)c[i], (double)ref[i]);
            ret = 1;
            goto release_session;
        }
    printf("sgemm check: ok (%dx%dx%d)\n", M, N, K);
release_session:
    if (vaccel_session_release(&sess))
        fprintf(stderr, "Could not release session\n");
    vaccel_prof_region_print(&sgemm_stats);
    vaccel_prof_region_release(&sgemm_stats);
    return ret;
}
