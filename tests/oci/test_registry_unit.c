/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the registry client's pure parts: references (valid and hostile), loopback
 * hosts, the tar reader's bounds, the auths file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "registry.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void ref_ok(const char *s, const char *host, const char *repo, const char *tag,
                   const char *digest)
{
    struct funk_ref r;
    int rc = funk_ref_parse(s, &r);
    if (rc != 0)
        fail_msg("'%s' refused", s);
    assert_string_equal(r.host, host);
    assert_string_equal(r.repo, repo);
    assert_string_equal(r.tag, tag);
    assert_string_equal(r.digest, digest);
}

static void test_ref_valid(void **state)
{
    (void)state;
    ref_ok("localhost:5000/funk/echo:v1", "localhost:5000", "funk/echo", "v1", "");
    ref_ok("localhost/echo", "localhost", "echo", "latest", "");
    ref_ok("127.0.0.1:38211/a/b/c", "127.0.0.1:38211", "a/b/c", "latest", "");
    ref_ok("echo", "docker.io", "library/echo", "latest", "");
    ref_ok("team/echo:1.0", "docker.io", "team/echo", "1.0", "");
    ref_ok("ghcr.io/o/r@sha256:" D64, "ghcr.io", "o/r", "", "sha256:" D64);
    ref_ok("reg.example.com/o/r:t@sha256:" D64, "reg.example.com", "o/r", "t", "sha256:" D64);
    ref_ok("[::1]:5000/x", "[::1]:5000", "x", "latest", "");
    ref_ok("a.b/x_y__z.w-v---u:T_1.-x", "a.b", "x_y__z.w-v---u", "T_1.-x", "");
    char out[600];
    struct funk_ref r;
    assert_int_equal(funk_ref_parse("localhost:5000/funk/echo:v1@sha256:" D64, &r), 0);
    funk_ref_format(&r, out, sizeof out);
    assert_string_equal(out, "localhost:5000/funk/echo:v1@sha256:" D64);
}

static void test_ref_hostile(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "UPPER/x",
        "x:",
        ":tag",
        "x@sha256:abc",
        "x@md5:" D64,
        "x@sha256:" D64 "0",
        "x@SHA256:" D64,
        "host:99999/x",
        "host:0/x",
        "host:/x",
        "host:12a/x",
        "a//b",
        "a/../b",
        "../../etc/passwd",
        "/abs/path",
        "-a",
        "a-",
        "a..b",
        "a___b",
        "a/b/",
        "x y",
        "x\n",
        "x:tag\n",
        "http://host/x",
        "[::1/x",
        "[zz]:5/x",
        "-host.com/x",
        "host.com./x",
        "x:-tag",
        "x:t/ag",
        "x@",
        "@sha256:" D64,
        "a@sha256:" D64 "@sha256:" D64,
    };
    struct funk_ref r;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (funk_ref_parse(bad[i], &r) != -EINVAL)
            fail_msg("'%s' accepted", bad[i]);
    assert_int_equal(funk_ref_parse(NULL, &r), -EINVAL);
    /* length caps: a 129-character tag, a 201-character name, a huge string */
    char b[4096];
    memset(b, 'a', sizeof b - 1);
    b[sizeof b - 1] = '\0';
    assert_int_equal(funk_ref_parse(b, &r), -EINVAL);
    snprintf(b, sizeof b, "x:%0129d", 0);
    assert_int_equal(funk_ref_parse(b, &r), -EINVAL);
    snprintf(b, sizeof b, "x:%0128d", 0);
    assert_int_equal(funk_ref_parse(b, &r), 0);
    memset(b, 'a', 201);
    b[201] = '\0';
    assert_int_equal(funk_ref_parse(b, &r), -EINVAL);
    /* random bytes: never accepted with a byte outside the grammar, never out of bounds */
    srand(1234);
    for (int i = 0; i < 200000; i++) {
        size_t n = (size_t)(rand() % 40);
        for (size_t k = 0; k < n; k++)
            b[k] = "aZ0:/@.-_[]%\x01\xff sha256"[rand() % 22];
        b[n] = '\0';
        if (funk_ref_parse(b, &r) == 0) {
            assert_true(strlen(r.repo) > 0 && strlen(r.host) > 0);
            assert_null(strpbrk(b, "%\x01\xff "));
        }
    }
}

static void test_ref_remote(void **state)
{
    (void)state;
    assert_true(funk_ref_is_remote("localhost:5000/x"));
    assert_true(funk_ref_is_remote("localhost/x:1"));
    assert_true(funk_ref_is_remote("my.reg/x"));
    assert_true(funk_ref_is_remote("echo@sha256:" D64));
    /* local paths and installed names stay local */
    assert_false(funk_ref_is_remote("build/unikernels/echo.elf"));
    assert_false(funk_ref_is_remote("build/unikernels/echo.elf:latest"));
    assert_false(funk_ref_is_remote("./x"));
    assert_false(funk_ref_is_remote("../x/y"));
    assert_false(funk_ref_is_remote("/abs/x"));
    assert_false(funk_ref_is_remote("echo"));
    assert_false(funk_ref_is_remote("echo:latest"));
    assert_false(funk_ref_is_remote("sha256:" D64));
    assert_false(funk_ref_is_remote(NULL));
    assert_true(funk_digest_valid("sha256:" D64));
    assert_false(funk_digest_valid("sha256:" D64 "a"));
    assert_false(funk_digest_valid("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123"
                                   "456789abcdef"));
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(funk_host_is_loopback("localhost"));
    assert_true(funk_host_is_loopback("localhost:5000"));
    assert_true(funk_host_is_loopback("127.0.0.1:1"));
    assert_true(funk_host_is_loopback("127.9.8.7"));
    assert_true(funk_host_is_loopback("[::1]:5000"));
    assert_false(funk_host_is_loopback("127.0.0.1.evil.com"));
    assert_false(funk_host_is_loopback("localhost.evil.com"));
    assert_false(funk_host_is_loopback("10.0.0.1"));
    assert_false(funk_host_is_loopback("127.0.0.256"));
    assert_false(funk_host_is_loopback("[::2]"));
}

/* One ustar header (name, size field as given) followed by size bytes of data. */
static size_t tar_entry(char *out, const char *name, const char *size_field, const char *data,
                        size_t n)
{
    memset(out, 0, 512);
    memcpy(out, name, strlen(name));
    memcpy(out + 124, size_field, strlen(size_field));
    out[156] = '0';
    memcpy(out + 257, "ustar", 6);
    memcpy(out + 512, data, n);
    return 512 + ((n + 511) & ~(size_t)511);
}

static void test_tar(void **state)
{
    (void)state;
    char *t = calloc(1, 8192);
    size_t off = tar_entry(t, "../evil", "00000000005", "EVIL!", 5);
    off += tar_entry(t + off, "./blobs/x", "00000000003", "abc", 3);
    const char *d;
    size_t n;
    assert_int_equal(funk_tar_find(t, off + 1024, "blobs/x", &d, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(d, "abc", 3);
    /* names with ".." never match, even asked for */
    assert_int_equal(funk_tar_find(t, off + 1024, "../evil", &d, &n), -ENOENT);
    assert_int_equal(funk_tar_find(t, off + 1024, "evil", &d, &n), -ENOENT);
    /* a size past the end, a huge size, a non-octal size */
    tar_entry(t, "big", "77777777777", "", 0);
    assert_int_equal(funk_tar_find(t, 2048, "x", &d, &n), -EINVAL);
    memset(t, 0, 8192);
    memcpy(t, "ovf", 3);
    memcpy(t + 124, "777777777777", 12);
    t[156] = '0';
    assert_int_equal(funk_tar_find(t, 8192, "x", &d, &n), -EINVAL);
    tar_entry(t, "nonoct", "0000000009x", "", 0);
    assert_int_equal(funk_tar_find(t, 8192, "x", &d, &n), -EINVAL);
    /* truncated archive: fewer than 512 bytes */
    assert_int_equal(funk_tar_find(t, 100, "x", &d, &n), -ENOENT);
    free(t);
}

static void test_login_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/funk-reg-unit.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[256], err[300];
    snprintf(file, sizeof file, "%s/cfg/funk/auth.json", dir);
    assert_int_equal(funk_reg_login(file, "localhost:5000", "u", "p4ss", err, sizeof err), 0);
    assert_int_equal(funk_reg_login(file, "reg.example.com", "a", "b:c", err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(file, "r");
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"dTpwNHNz\"")); /* u:p4ss */
    assert_non_null(strstr(buf, "\"YTpiOmM=\"")); /* a:b:c */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    setenv("XDG_CONFIG_HOME", "/x", 1);
    assert_int_equal(funk_reg_auth_file_default(file, sizeof file), 0);
    assert_string_equal(file, "/x/funk/auth.json");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/h", 1);
    assert_int_equal(funk_reg_auth_file_default(file, sizeof file), 0);
    assert_string_equal(file, "/h/.config/funk/auth.json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_valid),  cmocka_unit_test(test_ref_hostile),
        cmocka_unit_test(test_ref_remote), cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_tar),        cmocka_unit_test(test_login_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
