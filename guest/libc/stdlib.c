/* SPDX-License-Identifier: Apache-2.0 */
/* Guest libc number parsing, sorting, exit/abort and errno. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libc_internal.h"

int errno;

/* Parses an optionally signed integer; *neg says the sign, the magnitude saturates at `limit`
 * (setting ERANGE). Shared by the strto* family. */
static unsigned long long parse(const char *s, char **end, int base, bool *neg,
                                unsigned long long limit)
{
    const char *p = s;
    unsigned long long v = 0;
    bool any = false, over = false;
    *neg = false;
    if (base < 0 || base == 1 || base > 36) {
        errno = EINVAL;
        if (end)
            *end = (char *)s;
        return 0;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '+' || *p == '-')
        *neg = *p++ == '-';
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        isxdigit((unsigned char)p[2])) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = p[0] == '0' ? 8 : 10;
    }
    for (;; p++) {
        int d;
        if (isdigit((unsigned char)*p))
            d = *p - '0';
        else if (isalpha((unsigned char)*p))
            d = tolower((unsigned char)*p) - 'a' + 10;
        else
            break;
        if (d >= base)
            break;
        any = true;
        if (v > (limit - (unsigned)d) / (unsigned)base)
            over = true;
        else
            v = v * (unsigned)base + (unsigned)d;
    }
    if (end)
        *end = (char *)(any ? p : s);
    if (over) {
        errno = ERANGE;
        return limit;
    }
    return v;
}

long long strtoll(const char *restrict s, char **restrict end, int base)
{
    bool neg;
    unsigned long long v = parse(s, end, base, &neg, (unsigned long long)LLONG_MAX + 1);
    if (!neg && v > (unsigned long long)LLONG_MAX) {
        errno = ERANGE;
        return LLONG_MAX;
    }
    return neg ? (long long)(0 - v) : (long long)v;
}

unsigned long long strtoull(const char *restrict s, char **restrict end, int base)
{
    bool neg;
    unsigned long long v = parse(s, end, base, &neg, ULLONG_MAX);
    return neg ? 0 - v : v;
}

long strtol(const char *restrict s, char **restrict end, int base)
{
    return (long)strtoll(s, end, base);
}

unsigned long strtoul(const char *restrict s, char **restrict end, int base)
{
    return (unsigned long)strtoull(s, end, base);
}

int atoi(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

long atol(const char *s)
{
    return strtol(s, NULL, 10);
}

int abs(int v)
{
    return v < 0 ? -v : v;
}

long labs(long v)
{
    return v < 0 ? -v : v;
}

static void swap_bytes(char *a, char *b, size_t size)
{
    while (size-- > 0) {
        char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

/* Shell sort: no recursion, no allocation, O(n^1.3)-ish, plenty for guest-sized arrays. */
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    char *a = base;
    if (n < 2 || size == 0)
        return;
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        size_t gap = gaps[g];
        if (gap >= n)
            continue;
        for (size_t i = gap; i < n; i++) {
            for (size_t j = i; j >= gap && cmp(a + (j - gap) * size, a + j * size) > 0; j -= gap)
                swap_bytes(a + (j - gap) * size, a + j * size, size);
        }
    }
}

void *bsearch(const void *key, const void *base, size_t n, size_t size,
              int (*cmp)(const void *, const void *))
{
    const char *a = base;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp(key, a + mid * size);
        if (c == 0)
            return (void *)(a + mid * size);
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

_Noreturn void exit(int status)
{
    libc_exit(status);
}

_Noreturn void abort(void)
{
    libc_abort("abort() called");
}
