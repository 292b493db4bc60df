/* SPDX-License-Identifier: Apache-2.0 */
/* A shared library for the exec tests (and, lacking a descriptor, a non-plugin .so). */
#include <funk/accel.h>

#include <errno.h>
#include <string.h>

__attribute__((visibility("default"))) int add_i32(const funk_accel_arg *in, size_t n_in,
                                                   funk_accel_arg *out, size_t n_out)
{
    if (n_in != 2 || n_out != 1 || in[0].type != FUNK_ACCEL_ARG_I32 ||
        in[1].type != FUNK_ACCEL_ARG_I32 || out[0].size < sizeof(int32_t))
        return -EINVAL;
    int32_t a, b, r;
    memcpy(&a, in[0].data, sizeof(a));
    memcpy(&b, in[1].data, sizeof(b));
    r = a + b;
    memcpy(out[0].data, &r, sizeof(r));
    out[0].used = sizeof(r);
    return 0;
}

__attribute__((visibility("default"))) int fail_42(const funk_accel_arg *in, size_t n_in,
                                                   funk_accel_arg *out, size_t n_out)
{
    (void)in, (void)n_in, (void)out, (void)n_out;
    return -42;
}
