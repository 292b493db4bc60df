/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel, built with SSE2: floating-point arithmetic gives the IEEE-754 results. Under
 * emulated KVM (PVM) the monitor ends it with an emulation error; natively it must pass. */
#include <stdio.h>
#include <string.h>

#include <funk/fn.h>

int main(void)
{
    volatile double a = 1.5, b = 2.25;
    volatile float x = 3.0f, y = 0.5f;
    double c = a * b + a / b; /* 3.375 + 0.666... */
    float z = x * y - 1.0f;   /* 0.5 */
    double expect_c = 3.375 + 2.0 / 3.0;
    if (c != expect_c || z != 0.5f) {
        printf("fpu: FAIL %.17g %.9g\n", FUNK_FARG(c), FUNK_FARG(z));
        return 1;
    }
    printf("fpu: OK %.6f %.3f\n", FUNK_FARG(c), FUNK_FARG(z));
    return 0;
}
