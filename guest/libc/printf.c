/* SPDX-License-Identifier: Apache-2.0 */
/* Guest libc printf family. Floating-point conversions work on the IEEE-754 bits with integer
 * arithmetic only (guests are built -mgeneral-regs-only), so a %f/%e/%g argument is passed as the
 * uint64_t bit pattern of a double: see FUNK_FARG() in <funk/fn.h>. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "libc_internal.h"

/* Where formatted bytes go: a caller's buffer (snprintf) or a chunk flushed to the console. */
struct out {
    char *buf;
    size_t size;  /* capacity of buf (snprintf: including the NUL) */
    size_t pos;   /* bytes stored in buf */
    size_t total; /* bytes produced overall: the return value */
    void (*flush)(struct out *o);
};

/* Every guest instruction costs ~0.5 us under PVM, so output moves in runs (memcpy/memset as
 * rep instructions) rather than byte by byte. */
static void out_bytes(struct out *o, const char *s, size_t n)
{
    o->total += n;
    while (n > 0) {
        if (o->pos + 1 >= o->size) {
            if (o->flush == NULL)
                return; /* snprintf: counted, not stored */
            o->flush(o);
        }
        size_t room = o->size - 1 - o->pos;
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->pos, s, k);
        o->pos += k;
        s += k;
        n -= k;
    }
}

static void out_byte(struct out *o, char c)
{
    if (o->pos + 1 < o->size) {
        o->buf[o->pos++] = c;
        o->total++;
    } else {
        out_bytes(o, &c, 1);
    }
}

static void out_pad(struct out *o, char c, int n)
{
    static const char spaces[32] = "                                ";
    static const char zeros[32] = "00000000000000000000000000000000";
    const char *src = c == '0' ? zeros : spaces;
    while (n > 0) {
        int k = n < 32 ? n : 32;
        out_bytes(o, src, (size_t)k);
        n -= k;
    }
}

struct spec {
    bool left, plus, space, alt, zero;
    int width;
    int prec; /* -1: not given */
    char conv;
};

/* Prints a field made of a sign/prefix, a body and zero padding, honouring width and flags. */
static void out_field(struct out *o, const struct spec *sp, const char *prefix, int zeros,
                      const char *body, size_t len)
{
    int plen = (int)strlen(prefix);
    int total = plen + zeros + (int)len;
    int pad = sp->width > total ? sp->width - total : 0;
    if (!sp->left && !sp->zero)
        out_pad(o, ' ', pad);
    out_bytes(o, prefix, (size_t)plen);
    if (!sp->left && sp->zero)
        out_pad(o, '0', pad);
    out_pad(o, '0', zeros);
    out_bytes(o, body, len);
    if (sp->left)
        out_pad(o, ' ', pad);
}

/* "00" .. "99": two decimal digits per division (every guest instruction counts under PVM). */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes v in decimal so that it ends just before `end`; returns where it starts. */
static char *u64_dec(char *end, uint64_t v)
{
    while (v >= 100) {
        uint64_t q = v / 100;
        unsigned r = (unsigned)(v - q * 100);
        end -= 2;
        end[0] = digit_pairs[2 * r];
        end[1] = digit_pairs[2 * r + 1];
        v = q;
    }
    if (v >= 10) {
        end -= 2;
        end[0] = digit_pairs[2 * v];
        end[1] = digit_pairs[2 * v + 1];
    } else {
        *--end = (char)('0' + v);
    }
    return end;
}

static void fmt_int(struct out *o, const struct spec *sp, uint64_t v, bool neg)
{
    char buf[24];
    int pos = sizeof buf; /* digits are written right to left, ending at buf[23] */
    unsigned base = 10;
    const char *digits = "0123456789abcdef";
    if (sp->conv == 'x' || sp->conv == 'p')
        base = 16;
    else if (sp->conv == 'X') {
        base = 16;
        digits = "0123456789ABCDEF";
    } else if (sp->conv == 'o')
        base = 8;
    if (v == 0) {
        /* Precision 0 with value 0 prints no digits at all (C11 7.21.6.1). */
        if (sp->prec != 0)
            buf[--pos] = '0';
    } else if (base == 10) {
        pos = (int)(u64_dec(buf + sizeof buf, v) - buf);
    } else {
        unsigned shift = base == 16 ? 4 : 3;
        while (v != 0) {
            buf[--pos] = digits[v & (base - 1)];
            v >>= shift;
        }
    }
    const char *body = buf + pos;
    int n = (int)sizeof buf - pos;
    const char *prefix = "";
    if (neg)
        prefix = "-";
    else if (sp->plus && (sp->conv == 'd' || sp->conv == 'i'))
        prefix = "+";
    else if (sp->space && (sp->conv == 'd' || sp->conv == 'i'))
        prefix = " ";
    else if (sp->conv == 'p' || (sp->alt && base == 16 && n > 0 && body[0] != '0'))
        prefix = sp->conv == 'X' ? "0X" : "0x";
    else if (sp->alt && base == 8 && (n == 0 || body[0] != '0'))
        prefix = "0";
    int zeros = sp->prec > n ? sp->prec - n : 0;
    struct spec s2 = *sp;
    if (sp->prec >= 0)
        s2.zero = false; /* a precision disables the 0 flag for integers */
    out_field(o, &s2, prefix, zeros, body, (size_t)n);
}

/* ---- floating point: exact decimal expansion of m * 2^e using base-1e9 big integers ---- */

#define BIG_LIMBS 130 /* enough for 5^1074 * 2^53 (~770 digits) and 2^1024 (~309 digits) */
#define DIGITS_MAX (BIG_LIMBS * 9 + 1)

struct big {
    uint32_t limb[BIG_LIMBS]; /* little-endian, base 1e9 */
    int n;
};

static void big_mul_small(struct big *b, uint32_t f)
{
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t v = (uint64_t)b->limb[i] * f + carry;
        b->limb[i] = (uint32_t)(v % 1000000000u);
        carry = v / 1000000000u;
    }
    while (carry != 0 && b->n < BIG_LIMBS) {
        b->limb[b->n++] = (uint32_t)(carry % 1000000000u);
        carry /= 1000000000u;
    }
}

/* Writes the decimal digits of b (no leading zeros) to s and returns how many. */
static int big_digits(const struct big *b, char *s)
{
    int n = 0;
    for (int i = b->n - 1; i >= 0; i--) {
        uint32_t v = b->limb[i];
        char t[9];
        for (int k = 8; k >= 0; k--) {
            t[k] = (char)('0' + v % 10);
            v /= 10;
        }
        int k = 0;
        if (n == 0) {
            while (k < 8 && t[k] == '0')
                k++;
        }
        for (; k < 9; k++)
            s[n++] = t[k];
    }
    return n;
}

/* Exact decimal form of a finite nonzero double: value = 0.DIGITS * 10^dp. */
static int decimal_expand(uint64_t mant, int exp2, char *s, int *dp)
{
    struct big b;
    b.n = 0;
    while (mant != 0) {
        b.limb[b.n++] = (uint32_t)(mant % 1000000000u);
        mant /= 1000000000u;
    }
    int shift10 = 0;
    if (exp2 >= 0) {
        for (int i = exp2; i > 0; i -= 29)
            big_mul_small(&b, 1u << (i < 29 ? i : 29));
    } else {
        /* m / 2^k = m * 5^k / 10^k */
        int k = -exp2;
        shift10 = k;
        for (; k >= 13; k -= 13)
            big_mul_small(&b, 1220703125u); /* 5^13 */
        uint32_t f = 1;
        for (; k > 0; k--)
            f *= 5;
        big_mul_small(&b, f);
    }
    int n = big_digits(&b, s);
    *dp = n - shift10;
    while (n > 1 && s[n - 1] == '0')
        n--;
    return n;
}

/* Rounds the digit string to `keep` digits (half to even on the exact value). May change *n and
 * *dp (carry out of the top digit). keep <= 0 is allowed: the result is then "0" or "1". */
static void round_digits(char *s, int *n, int *dp, int keep)
{
    if (keep >= *n)
        return;
    bool up;
    if (keep < 0) {
        up = false;
    } else {
        char d = s[keep];
        bool rest = false;
        for (int i = keep + 1; i < *n; i++)
            rest |= s[i] != '0';
        bool odd = keep > 0 && ((s[keep - 1] - '0') & 1);
        up = d > '5' || (d == '5' && (rest || odd));
    }
    if (keep <= 0) {
        if (up) {
            s[0] = '1';
            *n = 1;
            *dp += 1 - keep;
        } else {
            s[0] = '0';
            *n = 1;
            *dp = 1;
            /* a zero: callers treat dp=1, "0" as exact zero */
        }
        return;
    }
    *n = keep;
    if (up) {
        int i = keep - 1;
        while (i >= 0 && s[i] == '9') {
            s[i] = '0';
            i--;
        }
        if (i < 0) {
            s[0] = '1';
            *n = 1;
            (*dp)++;
        } else {
            s[i]++;
        }
    }
    while (*n > 1 && s[*n - 1] == '0')
        (*n)--;
}

/* Emits digits of the fixed form with `prec` fraction digits into body. */
static size_t layout_fixed(char *body, const char *s, int n, int dp, int prec, bool alt)
{
    size_t k = 0;
    if (dp <= 0) {
        body[k++] = '0';
    } else {
        for (int i = 0; i < dp; i++)
            body[k++] = i < n ? s[i] : '0';
    }
    if (prec > 0 || alt)
        body[k++] = '.';
    for (int i = 0; i < prec; i++) {
        int idx = dp + i;
        body[k++] = (idx >= 0 && idx < n) ? s[idx] : '0';
    }
    return k;
}

static size_t layout_exp(char *body, const char *s, int n, int dp, int prec, bool alt, bool upper)
{
    size_t k = 0;
    body[k++] = s[0];
    if (prec > 0 || alt)
        body[k++] = '.';
    for (int i = 1; i <= prec; i++)
        body[k++] = i < n ? s[i] : '0';
    int x = (n == 1 && s[0] == '0') ? 0 : dp - 1;
    body[k++] = upper ? 'E' : 'e';
    body[k++] = x < 0 ? '-' : '+';
    if (x < 0)
        x = -x;
    char t[5];
    int tn = 0;
    do {
        t[tn++] = (char)('0' + x % 10);
        x /= 10;
    } while (x != 0);
    if (tn < 2)
        t[tn++] = '0';
    while (tn > 0)
        body[k++] = t[--tn];
    return k;
}

/* %f fast path: round(m * 2^e2 * 10^prec) exactly with 128-bit integers when it fits in 64 bits
 * (prec <= 9): a few dozen instructions instead of the big-number expansion. Returns false when
 * the value is out of its range. */
static const uint32_t pow10_u32[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};

static bool fixed_scaled(uint64_t mant, int e2, int prec, uint64_t *out)
{
    unsigned __int128 x = (unsigned __int128)mant * pow10_u32[prec]; /* < 2^83 */
    if (e2 >= 0) {
        if (e2 > 63 || (x >> (64 - e2)) != 0)
            return false;
        *out = (uint64_t)(x << e2);
        return true;
    }
    int k = -e2;
    if (k >= 128) {
        *out = 0; /* below 2^-45 after scaling: rounds to zero */
        return true;
    }
    unsigned __int128 q = x >> k;
    unsigned __int128 rem = x - (q << k);
    unsigned __int128 half = (unsigned __int128)1 << (k - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++; /* round half to even, like the exact path */
    if ((q >> 64) != 0)
        return false;
    *out = (uint64_t)q;
    return true;
}

static void fmt_float(struct out *o, const struct spec *sp, uint64_t bits)
{
    static char s[DIGITS_MAX];
    static char body[DIGITS_MAX + 400];
    bool neg = bits >> 63;
    int bexp = (int)((bits >> 52) & 0x7ff);
    uint64_t frac = bits & ((1ull << 52) - 1);
    bool upper = sp->conv == 'F' || sp->conv == 'E' || sp->conv == 'G';
    const char *prefix = neg ? "-" : sp->plus ? "+" : sp->space ? " " : "";
    struct spec s2 = *sp;

    if (bexp == 0x7ff) {
        s2.zero = false;
        const char *t = frac != 0 ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
        out_field(o, &s2, prefix, 0, t, 3);
        return;
    }
    int prec = sp->prec < 0 ? 6 : sp->prec;
    if ((sp->conv == 'f' || sp->conv == 'F') && prec <= 9) {
        uint64_t mant = bexp == 0 ? frac : frac | (1ull << 52);
        uint64_t scaled;
        if (fixed_scaled(mant, (bexp == 0 ? 1 : bexp) - 1075, prec, &scaled)) {
            char fb[40];
            char *end = fb + sizeof fb;
            char *p = end;
            if (prec > 0) {
                char *start = u64_dec(end, scaled % pow10_u32[prec]);
                while (end - start < prec)
                    *--start = '0';
                p = start;
            }
            if (prec > 0 || sp->alt)
                *--p = '.';
            p = u64_dec(p, scaled / pow10_u32[prec]);
            out_field(o, &s2, prefix, 0, p, (size_t)(end - p));
            return;
        }
    }
    int n, dp;
    if (bexp == 0 && frac == 0) {
        s[0] = '0';
        n = 1;
        dp = 1;
    } else {
        uint64_t mant = bexp == 0 ? frac : frac | (1ull << 52);
        int e2 = (bexp == 0 ? 1 : bexp) - 1075;
        n = decimal_expand(mant, e2, s, &dp);
    }
    bool zero = n == 1 && s[0] == '0';
    if (prec > 350)
        prec = 350;
    size_t len;
    char c = sp->conv;
    if (c == 'f' || c == 'F') {
        if (!zero)
            round_digits(s, &n, &dp, dp + prec);
        len = layout_fixed(body, s, n, dp, prec, sp->alt);
    } else if (c == 'e' || c == 'E') {
        if (!zero)
            round_digits(s, &n, &dp, prec + 1);
        len = layout_exp(body, s, n, dp, prec, sp->alt, upper);
    } else { /* g, G */
        int p = prec == 0 ? 1 : prec;
        if (!zero)
            round_digits(s, &n, &dp, p);
        int x = zero ? 0 : dp - 1;
        if (x < p && x >= -4) {
            int fp = p - 1 - x;
            if (!sp->alt && fp > n - dp)
                fp = n - dp > 0 ? n - dp : 0;
            len = layout_fixed(body, s, n, dp, fp, sp->alt);
        } else {
            int ep = p - 1;
            if (!sp->alt && ep > n - 1)
                ep = n - 1;
            len = layout_exp(body, s, n, dp, ep, sp->alt, upper);
        }
    }
    out_field(o, &s2, prefix, 0, body, len);
}

static int format(struct out *o, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            const char *q = p;
            while (*q != '\0' && *q != '%')
                q++;
            out_bytes(o, p, (size_t)(q - p));
            p = q - 1;
            continue;
        }
        p++;
        struct spec sp = {.prec = -1};
        for (;; p++) {
            if (*p == '-')
                sp.left = true;
            else if (*p == '+')
                sp.plus = true;
            else if (*p == ' ')
                sp.space = true;
            else if (*p == '#')
                sp.alt = true;
            else if (*p == '0')
                sp.zero = true;
            else
                break;
        }
        if (*p == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                sp.width = sp.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            sp.prec = 0;
            if (*p == '*') {
                sp.prec = va_arg(ap, int);
                if (sp.prec < 0)
                    sp.prec = -1;
                p++;
            } else {
                while (*p >= '0' && *p <= '9')
                    sp.prec = sp.prec * 10 + (*p++ - '0');
            }
        }
        if (sp.left)
            sp.zero = false;
        int lng = 0; /* -2 hh, -1 h, 0 int, 1 long, 2 long long/size_t/intmax/ptrdiff */
        for (;; p++) {
            if (*p == 'h')
                lng--;
            else if (*p == 'l')
                lng++;
            else if (*p == 'z' || *p == 'j' || *p == 't')
                lng = 2;
            else if (*p == 'L')
                ;
            else
                break;
        }
        sp.conv = *p;
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v;
            if (lng >= 1)
                v = lng == 1 ? va_arg(ap, long) : va_arg(ap, long long);
            else
                v = va_arg(ap, int);
            if (lng == -1)
                v = (short)v;
            else if (lng <= -2)
                v = (signed char)v;
            fmt_int(o, &sp, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v;
            if (lng >= 1)
                v = lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned long long);
            else
                v = va_arg(ap, unsigned int);
            if (lng == -1)
                v = (unsigned short)v;
            else if (lng <= -2)
                v = (unsigned char)v;
            fmt_int(o, &sp, v, false);
            break;
        }
        case 'p': {
            void *v = va_arg(ap, void *);
            sp.alt = true;
            fmt_int(o, &sp, (uint64_t)(uintptr_t)v, false);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            sp.zero = false;
            out_field(o, &sp, "", 0, &c, 1);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL)
                s = "(null)";
            size_t len = sp.prec >= 0 ? strnlen(s, (size_t)sp.prec) : strlen(s);
            sp.zero = false;
            out_field(o, &sp, "", 0, s, len);
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            fmt_float(o, &sp, va_arg(ap, uint64_t));
            break;
        case '%':
            out_byte(o, '%');
            break;
        case '\0':
            p--; /* a lone '%' at the end: print nothing more */
            break;
        default:
            /* Unknown conversion: print it verbatim so the mistake is visible. */
            out_byte(o, '%');
            out_byte(o, *p);
            break;
        }
    }
    if (o->flush != NULL)
        o->flush(o);
    else if (o->size > 0)
        o->buf[o->pos] = '\0';
    return o->total > 0x7fffffff ? -1 : (int)o->total;
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    struct out o = {.buf = buf, .size = size};
    return format(&o, fmt, ap);
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return r;
}

int sprintf(char *restrict buf, const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, (size_t)0x7fffffff, fmt, ap);
    va_end(ap);
    return r;
}

static void console_flush(struct out *o)
{
    if (o->pos > 0)
        libc_console_write(o->buf, o->pos);
    o->pos = 0;
}

int vprintf(const char *restrict fmt, va_list ap)
{
    /* One console hypercall per 512 bytes: each exit is expensive under emulated KVM. */
    char chunk[512];
    struct out o = {.buf = chunk, .size = sizeof chunk, .flush = console_flush};
    return format(&o, fmt, ap);
}

int printf(const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vprintf(fmt, ap);
    va_end(ap);
    return r;
}

int puts(const char *s)
{
    size_t n = strlen(s);
    char chunk[256];
    if (n < sizeof chunk) {
        memcpy(chunk, s, n);
        chunk[n] = '\n';
        libc_console_write(chunk, n + 1);
    } else {
        libc_console_write(s, n);
        libc_console_write("\n", 1);
    }
    return (int)n + 1;
}

int putchar(int c)
{
    char ch = (char)c;
    libc_console_write(&ch, 1);
    return (unsigned char)c;
}
