/* SPDX-License-Identifier: Apache-2.0 */
/* Guest libc assertion failure handler: report where, then abort the unikernel. */
#include <assert.h>
#include <stdio.h>

#include "libc_internal.h"

_Noreturn void __funk_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    char msg[256];
    snprintf(msg, sizeof msg, "assertion failed: %s (%s:%d in %s)", expr, file, line, func);
    libc_abort(msg);
}
