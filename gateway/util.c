/* SPDX-License-Identifier: Apache-2.0 */
/* funkd helpers: levelled logging (escaped), clocks, RFC 3339 times, call ids, ELF note probe. */
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
#include <funk/abi/hvt.h>

#include "elf_note.h"
#include "gw.h"

int gw_log_level = GW_LOG_INFO;

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when the bytes there are not one
 * (overlong forms, surrogates and code points past U+10FFFF are not valid). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t l;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        l = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        l = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        l = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < l)
        return 0;
    for (size_t i = 1; i < l; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((l == 3 && cp < 0x800) || (l == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return l;
}

size_t gw_escape(const char *in, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < len;) {
        char esc[5] = {0};
        size_t el = 0, take = 1;
        unsigned c = p[i];
        if (c == '\\') {
            esc[0] = '\\', esc[1] = '\\', el = 2;
        } else if (c == '\n' || c == '\r' || c == '\t' || c == 0x1b) {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 'e';
            el = 2;
        } else if (c < 0x20 || c == 0x7f) {
            el = 4;
        } else if (c >= 0x80) {
            take = utf8_len(p + i, len - i);
            /* C1 controls (U+0080..U+009F, encoded C2 80..C2 9F) act like ESC on many terminals */
            if (take == 0 || (take == 2 && c == 0xc2 && p[i + 1] < 0xa0)) {
                take = 1;
                el = 4;
            }
        }
        if (el == 4) {
            esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15];
        }
        size_t need = el ? el : take;
        if (need > cap - 1 - o)
            break; /* never cut an escape or a character in half */
        if (el)
            memcpy(out + o, esc, el);
        else
            memcpy(out + o, p + i, take);
        o += need;
        i += take;
    }
    out[o] = '\0';
    return o;
}

void gw_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > gw_log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    char ts[40];
    gw_rfc3339(gw_wall(), ts);
    char line[2048];
    int n = snprintf(line, sizeof line, "%s funkd %s: ", ts, names[level]);
    /* messages carry function names, guest reasons and the like: escape every control byte so
     * that one call is one line and nothing a guest wrote can pass for a line of funkd's own */
    size_t l =
        (size_t)n + gw_escape(msg, strnlen(msg, sizeof msg), line + n, sizeof line - (size_t)n - 1);
    line[l++] = '\n';
    /* one write per line so that concurrent threads do not interleave */
    ssize_t w = write(2, line, l);
    (void)w;
}

void gw_log_output(const char *fn, const char *instance, const char *text)
{
    if (gw_log_level < GW_LOG_INFO || !gw_cfg.log_output)
        return;
    char ts[40];
    gw_rfc3339(gw_wall(), ts);
    char line[4 * GW_LOG_LINE_MAX + 8 * GW_NAME_MAX + 64];
    char f[2 * GW_NAME_MAX + 2], in[GW_NAME_MAX + 24];
    gw_escape(fn, strlen(fn), f, sizeof f);
    gw_escape(instance, strlen(instance), in, sizeof in);
    /* "fn NAME[INSTANCE]:", never "funkd LEVEL:": output cannot pass for funkd's own lines */
    int n = snprintf(line, sizeof line, "%s fn %s[%s]: %s", ts, f, in, text);
    size_t l = n < 0 ? 0 : (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[l++] = '\n';
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

int gw_elf_kind(const void *elf, size_t len)
{
    if (elf_note_find_owned(elf, len, "Solo5", HVT_NOTE_ABI1, NULL) == 1)
        return 1;
    const unsigned char *b = elf;
    if (len < sizeof(Elf64_Ehdr) || memcmp(b, ELFMAG, SELFMAG) != 0 || b[EI_CLASS] != ELFCLASS64)
        return -EBADMSG;
    Elf64_Ehdr eh;
    memcpy(&eh, b, sizeof eh);
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
        (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
        return -EBADMSG;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, b + eh.e_phoff + (uint64_t)i * sizeof ph, sizeof ph);
        /* a static-pie has PT_DYNAMIC (it relocates itself) but never an interpreter */
        if (ph.p_type == PT_INTERP)
            return -EBADMSG;
    }
    return 0;
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
