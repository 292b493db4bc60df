/* SPDX-License-Identifier: Apache-2.0 */
/* Guest libc memory and string functions; memcpy, memmove and memset are per architecture
 * (string_x86_64.c, string_aarch64.c). */
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <ctype.h>
#include <errno.h>

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    size_t i = 0;
    /* Word at a time while equal (unaligned 8-byte loads are fine on x86). */
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        __builtin_memcpy(&u, x + i, 8);
        __builtin_memcpy(&v, y + i, 8);
        if (u != v)
            break;
    }
    for (; i < n; i++) {
        if (x[i] != y[i])
            return x[i] - y[i];
    }
    return 0;
}

void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == (unsigned char)c)
            return (void *)(p + i);
    }
    return NULL;
}

/* Word at a time with unaligned 8-byte loads (cheap on x86), so short strings need no byte-wise
 * alignment prologue; a load that would cross into the next page is done byte-wise instead, so
 * reading past the NUL can never fault. ASan cannot see that reasoning, hence the attribute. */
__attribute__((no_sanitize_address)) size_t strlen(const char *s)
{
    const char *p = s;
    for (;;) {
        if (((uintptr_t)p & 0xfff) > 0xff8) {
            if (*p == '\0')
                return (size_t)(p - s);
            p++;
            continue;
        }
        uint64_t v;
        __builtin_memcpy(&v, p, 8);
        uint64_t z = (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
        if (z != 0)
            return (size_t)(p - s) + (size_t)(__builtin_ctzll(z) >> 3);
        p += 8;
    }
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n > 0; n--, a++, b++) {
        if (*a != *b || *a == '\0')
            return (unsigned char)*a - (unsigned char)*b;
    }
    return 0;
}

int strcasecmp(const char *a, const char *b)
{
    while (*a && tolower((unsigned char)*a) == tolower((unsigned char)*b)) {
        a++;
        b++;
    }
    return tolower((unsigned char)*a) - tolower((unsigned char)*b);
}

int strncasecmp(const char *a, const char *b, size_t n)
{
    for (; n > 0; n--, a++, b++) {
        int x = tolower((unsigned char)*a), y = tolower((unsigned char)*b);
        if (x != y || x == '\0')
            return x - y;
    }
    return 0;
}

char *strcpy(char *restrict dst, const char *restrict src)
{
    return memcpy(dst, src, strlen(src) + 1);
}

char *strncpy(char *restrict dst, const char *restrict src, size_t n)
{
    size_t len = strnlen(src, n);
    memcpy(dst, src, len);
    memset(dst + len, 0, n - len);
    return dst;
}

size_t strlcpy(char *restrict dst, const char *restrict src, size_t size)
{
    size_t len = strlen(src);
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

char *strcat(char *restrict dst, const char *restrict src)
{
    strcpy(dst + strlen(dst), src);
    return dst;
}

char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (*s == '\0')
            return NULL;
    }
}

char *strrchr(const char *s, int c)
{
    const char *last = NULL;
    for (;; s++) {
        if (*s == (char)c)
            last = s;
        if (*s == '\0')
            return (char *)last;
    }
}

char *strstr(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return (char *)haystack;
    for (; *haystack; haystack++) {
        if (*haystack == *needle && strncmp(haystack, needle, n) == 0)
            return (char *)haystack;
    }
    return NULL;
}

char *strdup(const char *s)
{
    return strndup(s, strlen(s));
}

char *strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = malloc(len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

size_t strspn(const char *s, const char *accept)
{
    size_t n = 0;
    while (s[n] && strchr(accept, s[n]))
        n++;
    return n;
}

size_t strcspn(const char *s, const char *reject)
{
    size_t n = 0;
    while (s[n] && !strchr(reject, s[n]))
        n++;
    return n;
}

char *strtok_r(char *restrict s, const char *restrict delim, char **restrict save)
{
    if (!s)
        s = *save;
    if (!s)
        return NULL;
    s += strspn(s, delim);
    if (!*s) {
        *save = NULL;
        return NULL;
    }
    char *end = s + strcspn(s, delim);
    if (*end) {
        *end = '\0';
        *save = end + 1;
    } else {
        *save = NULL;
    }
    return s;
}

/* One tokenizer state: guests are single-threaded. */
char *strtok(char *restrict s, const char *restrict delim)
{
    static char *save;
    return strtok_r(s, delim, &save);
}

char *strerror(int errnum)
{
    switch (errnum) {
    case 0:
        return "success";
    case EPERM:
        return "operation not permitted";
    case ENOENT:
        return "no such entry";
    case EINTR:
        return "interrupted";
    case EIO:
        return "I/O error";
    case E2BIG:
        return "argument list too long";
    case EBADF:
        return "bad handle";
    case EAGAIN:
        return "try again";
    case ENOMEM:
        return "out of memory";
    case EFAULT:
        return "bad address";
    case EBUSY:
        return "busy";
    case ENODEV:
        return "no such device";
    case EINVAL:
        return "invalid argument";
    case ENOSPC:
        return "no space left";
    case EPIPE:
        return "no more requests";
    case ERANGE:
        return "result out of range";
    case ENOSYS:
        return "not implemented";
    case ENODATA:
        return "no data";
    case EOVERFLOW:
        return "value too large";
    case EMSGSIZE:
        return "message too long";
    case EPROTO:
        return "protocol error";
    case ENOTSUP:
        return "not supported";
    case ETIMEDOUT:
        return "timed out";
    case ESRCH:
        return "no such process";
    case ENXIO:
        return "no such device or address";
    case EACCES:
        return "permission denied";
    case EEXIST:
        return "file exists";
    case ENOTDIR:
        return "not a directory";
    case EISDIR:
        return "is a directory";
    case EMFILE:
        return "too many open files";
    case ENOTTY:
        return "not a terminal";
    case EFBIG:
        return "file too large";
    case EROFS:
        return "read-only file system";
    case EDOM:
        return "argument out of domain";
    case EDEADLK:
        return "deadlock avoided";
    case ENAMETOOLONG:
        return "name too long";
    case ENOTEMPTY:
        return "directory not empty";
    case ELOOP:
        return "too many symbolic links";
    case ETIME:
        return "timer expired";
    case EBADMSG:
        return "bad message";
    case EILSEQ:
        return "illegal byte sequence";
    case EADDRINUSE:
        return "address in use";
    case ECONNRESET:
        return "connection reset";
    case ECONNREFUSED:
        return "connection refused";
    case ENOTCONN:
        return "not connected";
    case EINPROGRESS:
        return "in progress";
    case ECANCELED:
        return "canceled";
    default:
        return "unknown error";
    }
}
