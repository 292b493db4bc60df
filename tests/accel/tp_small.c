/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin whose descriptor claims fewer bytes than ABI 1.0 defines: refused (-ENOEXEC). */
#include <funk/accel_plugin.h>

__attribute__((visibility("default"))) const funk_accel_plugin funk_accel_plugin_descriptor = {
    .abi_major = FUNK_ACCEL_PLUGIN_ABI_MAJOR,
    .abi_minor = 0,
    .struct_size = 16,
    .priority = 1,
    .name = "tpsmall",
};
