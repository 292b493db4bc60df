/* SPDX-License-Identifier: Apache-2.0 */
/* Guest ACCEL internals shared by accel.c and the per-architecture funk_accel_sgemm. */
#ifndef FUNK_GUEST_ACCEL_INTERNAL_H
#define FUNK_GUEST_ACCEL_INTERNAL_H

#include <stdint.h>

#include <funk/accel.h>

/* SGEMM with alpha and beta as IEEE-754 single-precision bit patterns. */
int sdk_accel_sgemm_bits(funk_accel_session *s, int m, int n, int k, uint32_t ab, const float *a,
                         int lda, const float *b, int ldb, uint32_t bb, float *c, int ldc);

#endif
