/* SPDX-License-Identifier: Apache-2.0 */
/* The two exec targets: mytestfunc in vAccel's ABI, funk_double in funk's; both return 2 * in. */
#include <vaccel.h>
#include <funk/accel.h>
#include <string.h>

#ifdef VACCEL_ABI
int mytestfunc(struct vaccel_arg *in, size_t nr_in, struct vaccel_arg *out, size_t nr_out)
{
    struct vaccel_arg_array r, w;
    int32_t x;
    if (nr_in != 1 || nr_out != 1 || vaccel_arg_array_wrap(&r, in, 1) ||
        vaccel_arg_array_wrap(&w, out, 1) || vaccel_arg_array_get_int32(&r, &x))
        return VACCEL_EINVAL;
    x *= 2;
    return vaccel_arg_array_set_int32(&w, &x);
}
#else
int funk_double(const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out)
{
    int32_t x;
    if (n_in != 1 || n_out != 1 || in[0].size != 4 || out[0].size != 4)
        return -22;
    memcpy(&x, in[0].data, 4);
    x *= 2;
    memcpy(out[0].data, &x, 4);
    out[0].used = 4;
    return 0;
}
#endif
