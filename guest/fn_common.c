/* SPDX-License-Identifier: Apache-2.0 */
/* Function I/O helpers shared by the unikernel and native builds: header lookup, float bits. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <funk/fn.h>

const char *funk_fn_header(const struct funk_fn_req *req, const char *name, size_t *len)
{
    size_t n = strlen(name);
    const char *p = req->headers, *end = p + req->headers_len;
    while (p != NULL && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol != NULL ? eol : end;
        if ((size_t)(le - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
                ve--;
            if (len != NULL)
                *len = (size_t)(ve - v);
            return v;
        }
        p = eol != NULL ? eol + 1 : end;
    }
    return NULL;
}

/* binary32 -> binary64 bit pattern, exactly, with integer operations only. */
uint64_t funk_f32_to_f64_bits(const void *f32)
{
    uint32_t b;
    memcpy(&b, f32, sizeof b);
    uint64_t sign = (uint64_t)(b >> 31) << 63;
    uint32_t exp = (b >> 23) & 0xff;
    uint64_t frac = b & 0x7fffff;
    if (exp == 0xff)
        return sign | (0x7ffull << 52) | (frac << 29);
    if (exp == 0) {
        if (frac == 0)
            return sign;
        /* subnormal: normalise into the wider exponent range */
        int e = -126;
        while (!(frac & 0x800000)) {
            frac <<= 1;
            e--;
        }
        frac &= 0x7fffff;
        return sign | ((uint64_t)(e + 1023) << 52) | (frac << 29);
    }
    return sign | ((uint64_t)(exp - 127 + 1023) << 52) | (frac << 29);
}

uint64_t funk_f64_bits(const void *f64)
{
    uint64_t b;
    memcpy(&b, f64, sizeof b);
    return b;
}
