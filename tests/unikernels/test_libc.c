/* SPDX-License-Identifier: Apache-2.0 */
/* cmocka unit tests of the guest libc (string, printf incl. integer-only %f/%e/%g, malloc,
 * strtol, qsort) and the fn helpers, compiled for the host from the guest sources (gl_ names). */
#include <setjmp.h>
#include <stdarg.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include <funk/fn.h>

/* The guest libc under test, renamed (libc_rename.h). */
void *gl_memcpy(void *, const void *, size_t);
void *gl_memmove(void *, const void *, size_t);
void *gl_memset(void *, int, size_t);
int gl_memcmp(const void *, const void *, size_t);
size_t gl_strlen(const char *);
int gl_strcmp(const char *, const char *);
int gl_strncmp(const char *, const char *, size_t);
int gl_strcasecmp(const char *, const char *);
char *gl_strstr(const char *, const char *);
char *gl_strrchr(const char *, int);
size_t gl_strlcpy(char *, const char *, size_t);
char *gl_strdup(const char *);
char *gl_strtok_r(char *, const char *, char **);
char *gl_strtok(char *, const char *);
char *gl_strerror(int);
int gl_snprintf(char *, size_t, const char *, ...);
void *gl_malloc(size_t);
void gl_free(void *);
void *gl_calloc(size_t, size_t);
void *gl_realloc(void *, size_t);
long gl_strtol(const char *, char **, int);
unsigned long gl_strtoul(const char *, char **, int);
unsigned long long gl_strtoull(const char *, char **, int);
void gl_qsort(void *, size_t, size_t, int (*)(const void *, const void *));
extern int gl_errno;
const char *gl_fn_header(const struct funk_fn_req *, const char *, size_t *);
uint64_t gl_f32_to_f64_bits(const void *);

struct libc_heap_stats {
    size_t arena, free_bytes, free_blocks;
};
void libc_heap_init(void *start, size_t len);
void libc_heap_stats(struct libc_heap_stats *st);

/* Hooks the guest libc expects from the SDK. */
static char console[4096];
static size_t console_len;
static char abort_msg[256];
static jmp_buf abort_jmp;

void libc_console_write(const char *buf, size_t len);
void libc_console_write(const char *buf, size_t len)
{
    if (console_len + len < sizeof console) {
        memcpy(console + console_len, buf, len);
        console_len += len;
    }
}

_Noreturn void libc_exit(int status);
_Noreturn void libc_exit(int status)
{
    longjmp(abort_jmp, 1000 + status);
}

_Noreturn void libc_abort(const char *why);
_Noreturn void libc_abort(const char *why)
{
    snprintf(abort_msg, sizeof abort_msg, "%s", why);
    longjmp(abort_jmp, 1);
}

static uint64_t bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* Formats one double with the guest printf and compares with the host printf. */
static void check_float(const char *fmt, double d)
{
    char mine[512], host[512];
    gl_snprintf(mine, sizeof mine, fmt, bits(d));
    snprintf(host, sizeof host, fmt, d);
    if (strcmp(mine, host) != 0)
        fail_msg("format \"%s\" of %.17g: guest \"%s\", host \"%s\"", fmt, d, mine, host);
}

static void test_printf_ints(void **state)
{
    (void)state;
    char b[128];
    assert_int_equal(gl_snprintf(b, sizeof b, "%d %i %u", -5, 42, 4000000000u), 16);
    assert_string_equal(b, "-5 42 4000000000");
    gl_snprintf(b, sizeof b, "[%5d][%-5d][%05d][%+d][% d]", 42, 42, -42, 7, 7);
    assert_string_equal(b, "[   42][42   ][-0042][+7][ 7]");
    gl_snprintf(b, sizeof b, "%x %X %#x %o %#o", 0xbeefu, 0xbeefu, 255u, 8u, 8u);
    assert_string_equal(b, "beef BEEF 0xff 10 010");
    gl_snprintf(b, sizeof b, "%lld %llu %zu %ld", (long long)INT64_MIN,
                (unsigned long long)UINT64_MAX, (size_t)123, -9L);
    assert_string_equal(b, "-9223372036854775808 18446744073709551615 123 -9");
    gl_snprintf(b, sizeof b, "%.3d|%.0d|%8.3x", 5, 0, 0xau);
    assert_string_equal(b, "005||     00a");
    gl_snprintf(b, sizeof b, "%hhd %hd", 300, 70000);
    assert_string_equal(b, "44 4464");
    gl_snprintf(b, sizeof b, "%p", (void *)0x1234);
    assert_string_equal(b, "0x1234");
    gl_snprintf(b, sizeof b, "%s|%.2s|%6s|%-6s|%c|%%|%s", "abc", "xyz", "r", "l", 'Q',
                (char *)NULL);
    assert_string_equal(b, "abc|xy|     r|l     |Q|%|(null)");
    gl_snprintf(b, sizeof b, "%*d|%-*d|%.*s", 4, 1, 3, 2, 2, "hello");
    assert_string_equal(b, "   1|2  |he");
}

static void test_printf_truncation(void **state)
{
    (void)state;
    char b[8];
    memset(b, 'Z', sizeof b);
    assert_int_equal(gl_snprintf(b, 5, "%s", "abcdefgh"), 8);
    assert_string_equal(b, "abcd");
    assert_int_equal(b[5], 'Z');
    assert_int_equal(gl_snprintf(NULL, 0, "%d", 12345), 5);
}

static void test_printf_floats(void **state)
{
    (void)state;
    static const double values[] = {
        0.0,
        -0.0,
        1.0,
        0.1,
        0.5,
        1.5,
        2.5,
        0.125,
        3.14159265358979,
        -2.718281828,
        123456.789,
        1e-5,
        9.9999999,
        0.00049,
        0.0005,
        0.0015,
        1e21,
        1.7976931348623157e308,
        4.9e-324,
        2.2250738585072014e-308,
        0.55,
        0.43,
        1e100,
        6.02214076e23,
        999999.5,
    };
    static const char *const fmts[] = {
        "%f", "%.0f", "%.1f",  "%.2f", "%.3f",   "%.10f",    "%e",    "%.0e",   "%.3E",
        "%g", "%.3g", "%.10g", "%G",   "%10.2f", "%-10.2f|", "%+.1f", "%08.3f", "%#.0f",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        for (size_t j = 0; j < sizeof fmts / sizeof fmts[0]; j++)
            check_float(fmts[j], values[i]);
    char b[64];
    /* %#g keeps trailing zeros, also after rounding carries into a new digit (C11 7.21.6.1;
     * glibc prints "1.e+06" for the last one, so these are spelled out instead of compared). */
    gl_snprintf(b, sizeof b, "%#g|%#g|%#.3g|%#g", bits(1.5), bits(0.0001), bits(100.0),
                bits(999999.5));
    assert_string_equal(b, "1.50000|0.000100000|100.|1.00000e+06");
    gl_snprintf(b, sizeof b, "%f %F %f", bits(1.0 / 0.0), bits(-1.0 / 0.0), bits(0.0 / 0.0));
    assert_true(strcmp(b, "inf -INF nan") == 0 || strcmp(b, "inf -INF -nan") == 0);
}

/* Random doubles of every magnitude: the %f fast path (128-bit) and the exact big-number path
 * must both agree with the host's printf. */
static void test_printf_floats_random(void **state)
{
    (void)state;
    static const char *const fmts[] = {"%f", "%.0f", "%.1f", "%.3f", "%.9f", "%.12f", "%e", "%g"};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 3000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        /* exponents concentrated where the fast path switches (|v| around 1e-12 .. 1e20) */
        uint64_t exp = i % 3 == 0 ? (seed >> 52) & 0x7ff : 1023 - 45 + ((seed >> 52) % 110);
        if (exp == 0x7ff)
            exp = 0x7fe;
        uint64_t b = (seed & 0x800fffffffffffffull) | (exp << 52);
        double d;
        memcpy(&d, &b, sizeof d);
        for (size_t j = 0; j < sizeof fmts / sizeof fmts[0]; j++)
            check_float(fmts[j], d);
    }
}

static void test_f32_bits(void **state)
{
    (void)state;
    static const float values[] = {0.0f,   -0.0f,           1.0f,  0.1f,  3.4e38f,
                                   1e-45f, 1.17549435e-38f, -2.5f, 0.553f};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        double d = values[i];
        assert_int_equal(gl_f32_to_f64_bits(&values[i]), bits(d));
    }
}

static void test_strings(void **state)
{
    (void)state;
    char b[32];
    assert_int_equal(gl_strlen("hello"), 5);
    assert_true(gl_strcmp("abc", "abd") < 0);
    assert_true(gl_strcmp("b", "a") > 0);
    assert_int_equal(gl_strncmp("abcX", "abcY", 3), 0);
    assert_int_equal(gl_strcasecmp("HeLLo", "hello"), 0);
    assert_string_equal(gl_strstr("find the needle here", "needle"), "needle here");
    assert_null(gl_strstr("abc", "abd"));
    assert_string_equal(gl_strrchr("a/b/c", '/'), "/c");
    assert_int_equal(gl_strlcpy(b, "truncate me please", 9), 18);
    assert_string_equal(b, "truncate");
    strcpy(b, "0123456789");
    gl_memmove(b + 2, b, 5);
    assert_string_equal(b, "0101234789");
    gl_memmove(b, b + 3, 5);
    assert_memory_equal(b, "12347", 5);
    gl_memset(b, 'x', 4);
    assert_memory_equal(b, "xxxx", 4);
    assert_true(gl_memcmp("\x01", "\xff", 1) < 0);
}

/* strtok_r/strtok against glibc's on the same inputs: leading, repeated and trailing
 * delimiters, an empty string, only delimiters, and NULL once exhausted. */
static void test_strtok(void **state)
{
    (void)state;
    static const char *const in[] = {"a,b,,c", ",,lead", "trail,,", "", ",,,", "one", " x  y\tz "};
    static const char *const delims[] = {",", ",", ",", ",", ",", ",", " \t"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        char g[32], h[32];
        strcpy(g, in[i]);
        strcpy(h, in[i]);
        char *gs = NULL, *hs = NULL;
        char *gt = gl_strtok_r(g, delims[i], &gs), *ht = strtok_r(h, delims[i], &hs);
        for (int k = 0; k < 8; k++) {
            if (!ht) {
                assert_null(gt);
                assert_null(gl_strtok_r(NULL, delims[i], &gs)); /* stays exhausted */
                break;
            }
            assert_non_null(gt);
            assert_string_equal(gt, ht);
            assert_int_equal(gt - g, ht - h);
            gt = gl_strtok_r(NULL, delims[i], &gs);
            ht = strtok_r(NULL, delims[i], &hs);
        }
    }
    char s[] = "k=v;x=y";
    assert_string_equal(gl_strtok(s, ";"), "k=v");
    assert_string_equal(gl_strtok(NULL, ";"), "x=y");
    assert_null(gl_strtok(NULL, ";"));
    assert_string_equal(gl_strerror(74), "bad message");       /* EBADMSG */
    assert_string_equal(gl_strerror(13), "permission denied"); /* EACCES */
}

/* memcpy/memmove/memset/memcmp/strlen use 8-byte words plus tails: try every size and
 * alignment around the word boundaries against byte-by-byte references. */
static void test_mem_sizes(void **state)
{
    (void)state;
    unsigned char a[96], b[96], ref[96];
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n <= 40; n++) {
            for (size_t i = 0; i < sizeof a; i++)
                a[i] = (unsigned char)(i * 13 + 1);
            memset(b, 0xee, sizeof b);
            assert_ptr_equal(gl_memcpy(b + off, a + 3, n), b + off);
            for (size_t i = 0; i < sizeof b; i++)
                assert_int_equal(b[i], (i >= off && i < off + n) ? a[3 + i - off] : 0xee);
            assert_int_equal(gl_memcmp(b + off, a + 3, n), 0);
            if (n > 0) {
                b[off + n - 1] ^= 1;
                assert_true(gl_memcmp(b + off, a + 3, n) != 0);
            }
            gl_memset(b + off, 0x5a, n);
            for (size_t i = 0; i < sizeof b; i++)
                assert_int_equal(b[i], (i >= off && i < off + n) ? 0x5a : 0xee);
            /* overlapping moves both ways */
            for (int dir = 0; dir < 2; dir++) {
                memcpy(b, a, sizeof a);
                memcpy(ref, a, sizeof a);
                size_t from = dir ? off : off + 5, to = dir ? off + 5 : off;
                memmove(ref + to, ref + from, n);
                gl_memmove(b + to, b + from, n);
                assert_memory_equal(b, ref, sizeof b);
            }
            char str[64];
            memset(str, 'x', sizeof str);
            str[off + n < sizeof str ? off + n : sizeof str - 1] = '\0';
            assert_int_equal(gl_strlen(str + off), strlen(str + off));
        }
    }
}

/* strlen reads 8 bytes at a time: strings that end at the very end of a page followed by an
 * inaccessible page must not fault. */
static void test_strlen_page_end(void **state)
{
    (void)state;
    char *map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + 4096, 4096, PROT_NONE), 0);
    memset(map, 'y', 4096);
    for (size_t len = 0; len < 40; len++) {
        char *str = map + 4096 - 1 - len;
        str[len] = '\0';
        assert_int_equal(gl_strlen(str), len);
        str[len] = 'y';
    }
    munmap(map, 8192);
}

static void test_strtol(void **state)
{
    (void)state;
    char *end;
    assert_int_equal(gl_strtol("  -123xyz", &end, 10), -123);
    assert_string_equal(end, "xyz");
    assert_int_equal(gl_strtol("0x1F", NULL, 0), 31);
    assert_int_equal(gl_strtol("017", NULL, 0), 15);
    assert_int_equal(gl_strtoul("zz", NULL, 36), 35 * 36 + 35);
    gl_errno = 0;
    assert_int_equal(gl_strtol("99999999999999999999", NULL, 10), LONG_MAX);
    assert_int_equal(gl_errno, 34 /* ERANGE */);
    gl_errno = 0;
    assert_int_equal(gl_strtol("-9223372036854775808", NULL, 10), LONG_MIN);
    assert_int_equal(gl_errno, 0);
    assert_int_equal(gl_strtol("abc", &end, 10), 0);
    assert_string_equal(end, "abc");
    assert_int_equal(gl_strtoull("18446744073709551615", NULL, 10), UINT64_MAX);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void test_qsort(void **state)
{
    (void)state;
    int v[1000];
    uint32_t seed = 12345;
    for (int i = 0; i < 1000; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (int)(seed >> 8) % 5000 - 2500;
    }
    gl_qsort(v, 1000, sizeof v[0], cmp_int);
    for (int i = 1; i < 1000; i++)
        assert_true(v[i - 1] <= v[i]);
}

static _Alignas(16) unsigned char arena[1 << 16];

static void test_heap(void **state)
{
    (void)state;
    struct libc_heap_stats st;
    libc_heap_init(arena, sizeof arena);
    libc_heap_stats(&st);
    size_t initial = st.free_bytes;
    assert_int_equal(st.free_blocks, 1);

    char *a = gl_malloc(10), *b = gl_malloc(1000), *c = gl_calloc(10, 10);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal((uintptr_t)a % 16, 0);
    assert_int_equal((uintptr_t)b % 16, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(c[i], 0);
    memset(b, 'b', 1000);
    b = gl_realloc(b, 5000);
    assert_non_null(b);
    assert_int_equal(b[999], 'b');
    gl_free(a);
    gl_free(c);
    gl_free(b);
    libc_heap_stats(&st);
    assert_int_equal(st.free_bytes, initial); /* everything coalesced back */
    assert_int_equal(st.free_blocks, 1);
    assert_null(gl_malloc(sizeof arena));    /* too big: NULL, not a crash */
    assert_null(gl_calloc(SIZE_MAX / 2, 4)); /* overflow */

    /* double free is caught */
    char *d = gl_malloc(8);
    gl_free(d);
    if (setjmp(abort_jmp) == 0) {
        gl_free(d);
        fail_msg("double free not detected");
    }
    assert_non_null(strstr(abort_msg, "double free"));
}

static void test_fn_header(void **state)
{
    (void)state;
    const char h[] = "Content-Type: text/plain\nX-Thing:  spaced value \r\nEmpty:\n";
    struct funk_fn_req req = {.headers = h, .headers_len = sizeof h - 1};
    size_t len;
    const char *v = gl_fn_header(&req, "content-type", &len);
    assert_non_null(v);
    assert_int_equal(len, 10);
    assert_memory_equal(v, "text/plain", 10);
    v = gl_fn_header(&req, "X-THING", &len);
    assert_non_null(v);
    assert_int_equal(len, 12);
    assert_memory_equal(v, "spaced value", 12);
    v = gl_fn_header(&req, "Empty", &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    assert_null(gl_fn_header(&req, "Content", &len));
    assert_null(gl_fn_header(&req, "Missing", &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printf_ints),   cmocka_unit_test(test_printf_truncation),
        cmocka_unit_test(test_printf_floats), cmocka_unit_test(test_printf_floats_random),
        cmocka_unit_test(test_f32_bits),      cmocka_unit_test(test_strings),
        cmocka_unit_test(test_mem_sizes),     cmocka_unit_test(test_strlen_page_end),
        cmocka_unit_test(test_strtol),        cmocka_unit_test(test_qsort),
        cmocka_unit_test(test_heap),          cmocka_unit_test(test_fn_header),
        cmocka_unit_test(test_strtok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
