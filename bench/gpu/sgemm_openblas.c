/* SPDX-License-Identifier: Apache-2.0 */
/* The cpu plugin's sgemm vs OpenBLAS's cblas_sgemm called directly, interleaved in one process
 * (FUNK_ACCEL_PLUGINS=cpu). */
#include <cblas.h>

#include "bench_util.h"

static int direct(void *ctx, int n, const float *a, const float *b, float *c)
{
    (void)ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    return 0;
}

int main(int argc, char **argv)
{
    int n, iters;
    if (bench_args(argc, argv, &n, &iters) < 0)
        return 2;
    funk_accel_session *s;
    char name[32];
    int rc = bench_accel_open(&s, name);
    if (rc != 0)
        return rc;
    rc = bench_pair(s, name, "direct-openblas", direct, NULL, n, iters);
    funk_accel_session_delete(s);
    funk_accel_fini();
    return rc;
}
