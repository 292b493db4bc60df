/* SPDX-License-Identifier: Apache-2.0 */
/* funk_accel_sgemm on aarch64: the float parameters arrive in FP registers (the monitor enables
 * FP/SIMD for aarch64 guests); their bits go to the hypercall unchanged. */
#include <stdint.h>
#include <string.h>

#include <funk/accel.h>

#include "accel_internal.h"

int funk_accel_sgemm(funk_accel_session *s, int m, int n, int k, float alpha, const float *a,
                     int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    uint32_t ab, bb;
    memcpy(&ab, &alpha, 4);
    memcpy(&bb, &beta, 4);
    return sdk_accel_sgemm_bits(s, m, n, k, ab, a, lda, b, ldb, bb, c, ldc);
}
