/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin built for another plugin ABI major: the runtime must refuse it (-ENOEXEC). */
#include <funk/accel_plugin.h>

static int tp_noop(const funk_accel_call *c)
{
    (void)c;
    return 0;
}

__attribute__((visibility("default"))) const funk_accel_plugin funk_accel_plugin_descriptor = {
    .abi_major = FUNK_ACCEL_PLUGIN_ABI_MAJOR + 98,
    .abi_minor = 0,
    .struct_size = sizeof(funk_accel_plugin),
    .priority = 1000,
    .name = "tpbadabi",
    .version = "99.0",
    .noop = tp_noop,
};
