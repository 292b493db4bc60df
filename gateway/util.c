/* SPDX-License-Identifier: Apache-2.0 */
/* funkd helpers: levelled logging, clocks, RFC 3339 times, call ids, ELF note probe. */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <funk/abi/funk.h>

#include "elf_note.h"
#include "gw.h"

int gw_log_level = GW_LOG_INFO;

void gw_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > gw_log_level)
        return;
    char line[1024];
    char ts[40];
    gw_rfc3339(gw_wall(), ts);
    int n = snprintf(line, sizeof line, "%s funkd %s: ", ts, names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t l = strlen(line);
    line[l++] = '\n';
    /* one write per line so that concurrent threads do not interleave */
    ssize_t w = write(2, line, l);
    (void)w;
}

double gw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double gw_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void gw_rfc3339(double unix_s, char out[40])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    long ms = (long)((unix_s - (double)t) * 1000.0);
    char tmp[128]; /* the compiler cannot bound tm's fields: format wide, then copy */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
    snprintf(out, 40, "%.39s", tmp);
}

void gw_uuid(char out[37])
{
    /* getrandom(2), not a descriptor: a per-thread /dev/urandom fd was never closed, and every
     * HTTP connection runs on a new thread, so funkd leaked one descriptor per connection */
    unsigned char b[16];
    ssize_t got = 0;
    while (got < (ssize_t)sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - (size_t)got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    if (got != (ssize_t)sizeof b) {
        /* no entropy source: fall back to time and address bits (unique enough for call ids) */
        uint64_t t = (uint64_t)(gw_wall() * 1e9), a = (uint64_t)(uintptr_t)&t;
        memcpy(b, &t, 8);
        memcpy(b + 8, &a, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int gw_elf_is_funk(const void *elf, size_t len, unsigned *flags)
{
    *flags = 0;
    return elf_note_find(elf, len, FUNK_NOTE_TYPE, flags);
}

/* "64M", "64Mi", "1G", "2097152" -> bytes; 0 on a bad value. */
uint64_t gw_parse_mem(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return 0;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1000 * 1000, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1000 * 1000 * 1000, end++;
    if (*end == 'i' && mul > 1) {
        mul = mul == 1000 ? 1024 : mul == 1000000 ? 1024 * 1024 : 1024ull * 1024 * 1024;
        end++;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v > (1ull << 42) / mul)
        return 0;
    return v * mul;
}

/* Seconds: "1.5", "2s", "500ms", "1m". -1 on a bad value. */
double gw_parse_secs(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    if (strcmp(end, "ms") == 0)
        v /= 1000;
    else if (strcmp(end, "m") == 0)
        v *= 60;
    else if (*end && strcmp(end, "s") != 0)
        return -1;
    return v;
}
