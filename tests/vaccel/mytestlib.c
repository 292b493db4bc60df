/* SPDX-License-Identifier: Apache-2.0 */
/* A vAccel exec library as vAccel's examples write one: mytestfunc(int32 in) -> 2 * in. */
#include "vaccel.h"
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

__attribute__((visibility("default"))) int mytestfunc(struct vaccel_arg *input, size_t nr_in,
                                                      struct vaccel_arg *output, size_t nr_out)
{
    if (nr_in != 1 || nr_out != 1) {
        fprintf(stderr, "Invalid number of arguments\n");
        return VACCEL_EINVAL;
    }
    struct vaccel_arg_array input_args, output_args;
    int ret = vaccel_arg_array_wrap(&input_args, input, nr_in);
    if (ret)
        return ret;
    ret = vaccel_arg_array_wrap(&output_args, output, nr_out);
    if (ret)
        return ret;
    int32_t input_int;
    ret = vaccel_arg_array_get_int32(&input_args, &input_int);
    if (ret) {
        fprintf(stderr, "Failed to unpack input\n");
        return ret;
    }
    int32_t output_int = 2 * input_int;
    ret = vaccel_arg_array_set_int32(&output_args, &output_int);
    if (ret) {
        fprintf(stderr, "Failed to pack output\n");
        return ret;
    }
    return VACCEL_OK;
}
