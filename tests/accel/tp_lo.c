/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin "tplo" (priority 300): answers the generic operations "tphi" declines. */
#include <funk/accel_plugin.h>

#include <errno.h>
#include <string.h>

static int tp_op(const funk_accel_call *c, const char *name, const funk_accel_arg *in, size_t n_in,
                 funk_accel_arg *out, size_t n_out)
{
    (void)c, (void)in, (void)n_in;
    if (strcmp(name, "who") && strcmp(name, "decline") && strcmp(name, "only_lo"))
        return -ENOENT;
    if (n_out < 1 || out[0].size < 5)
        return -ENOSPC;
    memcpy(out[0].data, "tplo", 5);
    out[0].used = 5;
    return 0;
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 300, .name = "tplo", .version = "0.0.1",
                         .description = "test plugin, middle priority", .op = tp_op);
