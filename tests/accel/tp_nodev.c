/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin whose device is absent (init -> -ENODEV): listed, never dispatched to. */
#include <funk/accel_plugin.h>

#include <errno.h>

static int tp_init(void **state)
{
    *state = NULL;
    return -ENODEV;
}

static int tp_noop(const funk_accel_call *c)
{
    (void)c;
    return -EIO; /* would make the test fail if dispatch ever came here */
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 900, .name = "tpnodev", .version = "0.1",
                         .description = "test plugin without its device", .init = tp_init,
                         .noop = tp_noop);
