/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests (cmocka) for funkd's and the CLI's pure parts: names, sizes, durations, times, call
 * ids, the ELF note probe, the OCI layout reader's refusals and the stack.yml reader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "gw.h"

/* main.c's globals (not linked here) */
struct gw_config gw_cfg = {.timeout = 30, .idle_timeout = 60, .pool_size = 0};
volatile int gw_stopping;

static void test_names(void **state)
{
    (void)state;
    char n[GW_NAME_MAX], ns[GW_NAME_MAX];
    assert_true(gw_valid_name("echo"));
    assert_true(gw_valid_name("my-fn_2.v1"));
    assert_false(gw_valid_name(""));
    assert_false(gw_valid_name("a/b"));
    assert_false(gw_valid_name("a b"));
    assert_false(gw_valid_name("x\n"));
    char longname[GW_NAME_MAX + 10];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(gw_valid_name(longname));
    assert_true(gw_split_name("echo", n, ns));
    assert_string_equal(n, "echo");
    assert_string_equal(ns, GW_DEFAULT_NS);
    assert_true(gw_split_name("echo.team-a", n, ns));
    assert_string_equal(n, "echo");
    assert_string_equal(ns, "team-a");
    assert_true(gw_split_name("a.b.c", n, ns)); /* the last dot splits */
    assert_string_equal(n, "a.b");
    assert_string_equal(ns, "c");
    assert_true(gw_split_name("trailing.", n, ns));
    assert_string_equal(n, "trailing.");
    assert_false(gw_split_name("bad/name", n, ns));
}

/* OpenFaaS's names: DNS-1123 labels (functions, namespaces), subdomains (secrets). */
static void test_dns_names(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "echo", "my-fn-2", "0abc", "9"};
    static const char *const bad[] = {"", "Bad_Name", "UPPER", "a.b", "-lead", "trail-"};
    static const char *const bad2[] = {"a_b", "a b", "a/b", "x\n", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_true(gw_valid_dns_label(good[i]));
        assert_true(gw_valid_dns_subdomain(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(gw_valid_dns_label(bad[i]));
    for (size_t i = 0; i < sizeof bad2 / sizeof *bad2; i++)
        assert_false(gw_valid_dns_label(bad2[i]));
    char l63[64], l64[65];
    memset(l63, 'a', 63);
    l63[63] = '\0';
    memset(l64, 'a', 64);
    l64[64] = '\0';
    assert_true(gw_valid_dns_label(l63));
    assert_false(gw_valid_dns_label(l64));
    assert_true(gw_valid_dns_subdomain("db.password"));
    assert_true(gw_valid_dns_subdomain("a-1.b-2.c"));
    assert_false(gw_valid_dns_subdomain("a..b"));
    assert_false(gw_valid_dns_subdomain(".a"));
    assert_false(gw_valid_dns_subdomain("a."));
    assert_false(gw_valid_dns_subdomain("a.-b"));
    assert_false(gw_valid_dns_subdomain("A.b"));
    assert_false(gw_valid_dns_subdomain("a_b.c"));
    char sub[GW_NAME_MAX + 1]; /* labels of 9 joined by dots, one byte too long */
    for (size_t i = 0; i < GW_NAME_MAX; i++)
        sub[i] = i % 10 == 9 ? '.' : 'a';
    sub[GW_NAME_MAX] = '\0';
    assert_false(gw_valid_dns_subdomain(sub));
    sub[GW_NAME_MAX - 1] = '\0'; /* 127 bytes, ends in "a" */
    assert_true(gw_valid_dns_subdomain(sub));
}

static void test_mem(void **state)
{
    (void)state;
    assert_int_equal(gw_parse_mem("64M"), 64000000ull);
    assert_int_equal(gw_parse_mem("64Mi"), 64ull << 20);
    assert_int_equal(gw_parse_mem("1Gi"), 1ull << 30);
    assert_int_equal(gw_parse_mem("2097152"), 2097152ull);
    assert_int_equal(gw_parse_mem("16MB"), 16000000ull);
    assert_int_equal(gw_parse_mem("lots"), 0);
    assert_int_equal(gw_parse_mem(""), 0);
    assert_int_equal(gw_parse_mem("12Q"), 0);
    assert_int_equal(gw_parse_mem("99999999999999999999"), 0);
    assert_int_equal(gw_parse_mem("-5M"), 0);
}

static void test_secs(void **state)
{
    (void)state;
    assert_true(gw_parse_secs("1.5") == 1.5);
    assert_true(gw_parse_secs("2s") == 2.0);
    assert_true(gw_parse_secs("500ms") == 0.5);
    assert_true(gw_parse_secs("1m") == 60.0);
    assert_true(gw_parse_secs("soon") < 0);
    assert_true(gw_parse_secs("5h") < 0);
    assert_true(gw_parse_secs("-1") < 0);
}

static void test_time_and_ids(void **state)
{
    (void)state;
    char ts[40];
    gw_rfc3339(0, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
    gw_rfc3339(1795708726.25, ts);
    assert_string_equal(ts, "2026-11-26T15:58:46.250Z");
    char a[37], b[37];
    gw_uuid(a);
    gw_uuid(b);
    assert_int_equal(strlen(a), 36);
    assert_true(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-' && a[14] == '4');
    assert_string_not_equal(a, b);
    assert_true(gw_now() > 0 && gw_wall() > 1.7e9);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void *uuid_thread(void *arg)
{
    gw_uuid(arg);
    return NULL;
}

/* funkd runs every connection on a thread of its own: call ids made on 300 short-lived threads
 * must not leave a descriptor each behind (a per-thread /dev/urandom fd did: funkd ran out of
 * descriptors after about 1000 connections under the default limit of 1024) */
static void test_uuid_threads_no_fd_leak(void **state)
{
    (void)state;
    char ids[300][37];
    int before = open_fds();
    assert_true(before > 0);
    for (int i = 0; i < 300; i++) {
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, uuid_thread, ids[i]), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
    }
    int after = open_fds();
    assert_true(after - before <= 2);
    for (int i = 1; i < 300; i++)
        assert_string_not_equal(ids[i], ids[i - 1]);
}

static void test_elf_probe(void **state)
{
    (void)state;
    unsigned flags = 99;
    char text[64];
    memset(text, 'x', sizeof text);
    assert_int_equal(gw_elf_is_funk(text, sizeof text, &flags), -ENOEXEC);
    assert_int_equal(gw_elf_is_funk("", 0, &flags), -ENOEXEC);
    const char *echo = getenv("ECHO_ELF");
    if (!echo || !*echo)
        skip();
    FILE *f = fopen(echo, "rb");
    assert_non_null(f);
    static char buf[4 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(gw_elf_is_funk(buf, n, &flags), 1);
    assert_true(flags & 1); /* FUNK_NOTE_F_PROCESS_OK */
    /* a truncated program header table is refused, not read past the end */
    assert_int_equal(gw_elf_is_funk(buf, 70, &flags), -ENOEXEC);
}

/* gw_escape: one line, no control bytes, valid UTF-8 kept, nothing cut in half. */
static void test_escape(void **state)
{
    (void)state;
    char out[256];
    static const char in[] = "a\nb\rc\td\x1b[1me\\f\x01\x7f\xc2\x9b\xc2\xa0\xc3\xa9\xff"
                             "\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82\xac";
    size_t n = gw_escape(in, sizeof in - 1, out, sizeof out);
    assert_string_equal(out, "a\\nb\\rc\\td\\e[1me\\\\f\\x01\\x7f\\xc2\\x9b\xc2\xa0\xc3\xa9\\xff"
                             "\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80\xe2\x82\xac");
    assert_int_equal(n, strlen(out));
    /* a NUL inside the text is escaped, not an end */
    gw_escape("x\0y", 3, out, sizeof out);
    assert_string_equal(out, "x\\x00y");
    /* truncated input sequence: each byte escaped */
    gw_escape("\xe2\x82", 2, out, sizeof out);
    assert_string_equal(out, "\\xe2\\x82");
    /* a small buffer stops before an escape or character that does not fit */
    n = gw_escape("ab\x1b", 3, out, 4);
    assert_string_equal(out, "ab");
    assert_int_equal(n, 2);
    n = gw_escape("a\xc3\xa9", 3, out, 3);
    assert_string_equal(out, "a");
    n = gw_escape("abc", 3, out, 1);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
}

static void test_oci_refusals(void **state)
{
    (void)state;
    char dir[] = "/tmp/funk-unit-oci-XXXXXX";
    assert_non_null(mkdtemp(dir));
    void *elf = NULL;
    size_t len = 0;
    char *mem = NULL, err[400], p[512];
    assert_int_equal(gw_oci_load(dir, &elf, &len, &mem, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "index.json"));
    snprintf(p, sizeof p, "%s/index.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"manifests\":[{\"digest\":\"sha256:../../etc/passwd\"}]}", f);
    fclose(f);
    assert_true(gw_oci_load(dir, &elf, &len, &mem, err, sizeof err) < 0);
    assert_non_null(strstr(err, "digest"));
    f = fopen(p, "w");
    fputs("{\"manifests\":[]}", f);
    fclose(f);
    assert_true(gw_oci_load(dir, &elf, &len, &mem, err, sizeof err) < 0);
    assert_non_null(strstr(err, "no manifest"));
    f = fopen(p, "w");
    fputs("{\"manifests\":[{\"digest\":\"sha256:"
          "0000000000000000000000000000000000000000000000000000000000000000\"}]}",
          f);
    fclose(f);
    assert_true(gw_oci_load(dir, &elf, &len, &mem, err, sizeof err) < 0);
    assert_null(mem);
    unlink(p);
    rmdir(dir);
}

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/funk-unit-yml-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_yaml(void **state)
{
    (void)state;
    char err[600];
    char *p = write_tmp("provider:\n  gateway: http://h:1\nfunctions:\n  f:\n    image: x.elf\n"
                        "    environment:\n      A: 1\n    secrets: [s1, s2]\n");
    json_t *j = cli_yaml_load(p, err, sizeof err);
    unlink(p);
    assert_non_null(j);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "provider"), "gateway")),
        "http://h:1");
    json_t *f = json_object_get(json_object_get(j, "functions"), "f");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f, "environment"), "A")),
                        "1");
    assert_int_equal(json_array_size(json_object_get(f, "secrets")), 2);
    json_decref(j);

    p = write_tmp("functions:\n  x: [unclosed\n");
    assert_null(cli_yaml_load(p, err, sizeof err));
    unlink(p);
    assert_non_null(strstr(err, ":3:1: ")); /* FILE:LINE:COLUMN: as compilers write it */

    p = write_tmp("a: &anchor 1\nb: *anchor\n");
    assert_null(cli_yaml_load(p, err, sizeof err));
    unlink(p);
    assert_non_null(strstr(err, "alias"));

    p = write_tmp("");
    assert_null(cli_yaml_load(p, err, sizeof err));
    unlink(p);
    assert_non_null(strstr(err, "empty"));

    assert_null(cli_yaml_load("/nonexistent/stack.yml", err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_mem),
        cmocka_unit_test(test_secs),
        cmocka_unit_test(test_time_and_ids),
        cmocka_unit_test(test_elf_probe),
        cmocka_unit_test(test_oci_refusals),
        cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_uuid_threads_no_fd_leak),
        cmocka_unit_test(test_dns_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
