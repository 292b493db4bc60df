/* SPDX-License-Identifier: Apache-2.0 */
/* funk_accel_sgemm on x86_64: guest code is built with -mgeneral-regs-only, but the float
 * parameters arrive in SSE registers; only their bits are moved out (movaps to memory, which
 * this KVM's emulator handles; SSE arithmetic it cannot do). */
#include <stdint.h>
#include <string.h>

#include <funk/accel.h>

#include "accel_internal.h"

__attribute__((target("sse2"), no_stack_protector)) int
funk_accel_sgemm(funk_accel_session *s, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc)
{
    /* movaps to memory: the one SSE move this KVM's emulator is known to run. (No stack
     * protector: under target("sse2") GCC would read the canary from %fs, which guests lack.) */
    float fa[4] __attribute__((aligned(16))), fb[4] __attribute__((aligned(16)));
    __asm__("movaps %1, %0" : "=m"(fa) : "x"(alpha));
    __asm__("movaps %1, %0" : "=m"(fb) : "x"(beta));
    uint32_t ab, bb;
    memcpy(&ab, &fa[0], 4);
    memcpy(&bb, &fb[0], 4);
    return sdk_accel_sgemm_bits(s, m, n, k, ab, a, lda, b, ldb, bb, c, ldc);
}
