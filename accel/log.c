/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging with per-component prefixes ("[cpu] ..."), level from FUNK_ACCEL_LOG_LEVEL. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -1: not read from the environment yet. */
static atomic_int log_level = -1;

static int parse_level(const char *v)
{
    if (v == NULL || *v == '\0')
        return FUNK_LOG_WARN;
    if (!strcmp(v, "error") || !strcmp(v, "0"))
        return FUNK_LOG_ERROR;
    if (!strcmp(v, "warn") || !strcmp(v, "warning") || !strcmp(v, "1"))
        return FUNK_LOG_WARN;
    if (!strcmp(v, "info") || !strcmp(v, "2"))
        return FUNK_LOG_INFO;
    if (!strcmp(v, "debug") || !strcmp(v, "3"))
        return FUNK_LOG_DEBUG;
    fprintf(stderr,
            "[accel] warning: FUNK_ACCEL_LOG_LEVEL=%s is not one of "
            "error|warn|info|debug; using warn\n",
            v);
    return FUNK_LOG_WARN;
}

void accel_log_reload(void)
{
    atomic_store(&log_level, parse_level(getenv("FUNK_ACCEL_LOG_LEVEL")));
}

FUNK_API int funk_accel_log_enabled(funk_accel_log_level level)
{
    int l = atomic_load_explicit(&log_level, memory_order_relaxed);
    if (ACCEL_UNLIKELY(l < 0)) {
        accel_log_reload();
        l = atomic_load(&log_level);
    }
    return (int)level <= l;
}

FUNK_API void funk_accel_log(funk_accel_log_level level, const char *component, const char *fmt,
                             ...)
{
    if (!funk_accel_log_enabled(level))
        return;
    static const char *const tag[] = {"error: ", "warning: ", "", "debug: "};
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "[%s] %s", component ? component : "?",
                     (unsigned)level < 4 ? tag[level] : "");
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf)) /* a very long component: the message starts at the end */
        n = (int)sizeof(buf) - 1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (m < 0) ? (size_t)n : (size_t)n + (size_t)m;
    if (len > sizeof(buf) - 2)
        len = sizeof(buf) - 2;
    buf[len++] = '\n';
    /* One write per line so concurrent threads do not interleave inside a line. */
    fwrite(buf, 1, len, stderr);
}
