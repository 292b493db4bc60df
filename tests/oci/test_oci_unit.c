/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the oci part: sizes, bundle classification and parsing, path resolution inside a
 * hostile rootfs (funk-runtime), HTTP request parsing (funk-watchdog). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <funk/vm.h>

#include "runtime.h"
#include "watchdog.h"

static void test_parse_size(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(rt_parse_size("64M", &v), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(rt_parse_size("64Mi", &v), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(rt_parse_size("64MiB", &v), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(rt_parse_size("1G", &v), 0);
    assert_int_equal(v, 1ull << 30);
    assert_int_equal(rt_parse_size("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(rt_parse_size("lots", &v), -EINVAL);
    assert_int_equal(rt_parse_size("-1M", &v), -EINVAL);
    assert_int_equal(rt_parse_size("", &v), -EINVAL);
    assert_int_equal(rt_parse_size("12X", &v), -EINVAL);
    assert_int_equal(rt_parse_size("12Mx", &v), -EINVAL);
    assert_int_equal(rt_parse_size(NULL, &v), -EINVAL);
}

/* A bundle directory with config.json = cfg and an optional rootfs/funk.json. */
static char *mkbundle(const char *cfg, const char *funk_json)
{
    char tmpl[] = "/tmp/funk-oci-unit.XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char p[512];
    snprintf(p, sizeof p, "%s/rootfs", d);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/config.json", d);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(cfg, f);
    fclose(f);
    if (funk_json) {
        snprintf(p, sizeof p, "%s/rootfs/funk.json", d);
        f = fopen(p, "w");
        assert_non_null(f);
        fputs(funk_json, f);
        fclose(f);
    }
    return strdup(d);
}

static void rmbundle(char *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

static int load(const char *cfg, const char *fj, struct rt_bundle *b, char *err, size_t errlen)
{
    char *d = mkbundle(cfg, fj);
    int rc = rt_bundle_load(d, b, err, errlen);
    rmbundle(d);
    return rc;
}

#define ROOT "\"root\":{\"path\":\"rootfs\"}"

/* The ACCEL agent: the annotation, else FUNK_RUNTIME_ACCEL_AGENT (funk-runtime --accel-agent);
 * an address that is not one is refused at create. */
static void test_bundle_accel_agent(void **state)
{
    (void)state;
    struct rt_bundle b;
    char err[512] = "";
    unsetenv("FUNK_RUNTIME_ACCEL_AGENT");
    assert_int_equal(load("{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/h\"}}", NULL,
                          &b, err, sizeof err),
                     1);
    assert_null(b.accel);
    rt_bundle_free(&b);
    setenv("FUNK_RUNTIME_ACCEL_AGENT", "unix:///run/node.sock", 1);
    assert_int_equal(load("{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/h\"}}", NULL,
                          &b, err, sizeof err),
                     1);
    assert_string_equal(b.accel, "agent:unix:///run/node.sock");
    rt_bundle_free(&b);
    assert_int_equal(load("{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/h\","
                          "\"org.funk.accel.agent\":\"unix:///run/a.sock\"}}",
                          NULL, &b, err, sizeof err),
                     1);
    assert_string_equal(b.accel, "agent:unix:///run/a.sock");
    rt_bundle_free(&b);
    unsetenv("FUNK_RUNTIME_ACCEL_AGENT");
    int rc = load("{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/h\","
                  "\"org.funk.accel.agent\":\"ftp://x\"}}",
                  NULL, &b, err, sizeof err);
    assert_true(rc < 0);
    assert_non_null(strstr(err, "is not an agent address"));
    rt_bundle_free(&b);
}

static void test_bundle_annotations(void **state)
{
    (void)state;
    struct rt_bundle b;
    char err[512] = "";
    int rc = load(
        "{" ROOT ",\"process\":{\"args\":[\"/hello.elf\",\"a\",\"b\"],\"env\":[\"K=V\"]},"
        "\"annotations\":{\"org.funk.unikernel.binary\":\"/"
        "hello.elf\",\"org.funk.unikernel.memory\":\"16M\","
        "\"org.funk.unikernel.cmdline\":\"ignored\",\"org.funk.unikernel.block\":\"disk=/d.img\"},"
        "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/run/netns/"
        "x\"}]}}",
        NULL, &b, err, sizeof err);
    assert_int_equal(rc, 1);
    assert_string_equal(b.binary, "/hello.elf");
    assert_string_equal(b.cmdline, "a b"); /* process.args after the binary win */
    assert_string_equal(b.mode, "console");
    assert_int_equal(b.mem_bytes, 16u << 20);
    assert_string_equal(b.env[0], "K=V");
    assert_null(b.env[1]);
    assert_int_equal(b.nns, 2);
    assert_null(b.ns[0].path);
    assert_string_equal(b.ns[1].path, "/run/netns/x");
    assert_int_equal(b.nblock, 1);
    assert_string_equal(b.block[0].name, "disk");
    assert_string_equal(b.block[0].path, "/d.img");
    rt_bundle_free(&b);

    /* Only the binary in args: the annotation's command line. */
    rc = load(
        "{" ROOT
        ",\"process\":{\"args\":[\"hello.elf\"]},\"annotations\":{\"org.funk.unikernel.binary\":"
        "\"/hello.elf\",\"org.funk.unikernel.cmdline\":\"x y\"}}",
        NULL, &b, err, sizeof err);
    assert_int_equal(rc, 1);
    assert_string_equal(b.cmdline, "x y");
    assert_int_equal(b.mem_bytes, 8u << 20);
    rt_bundle_free(&b);
}

static void test_bundle_memory_limit(void **state)
{
    (void)state;
    struct rt_bundle b;
    char err[512] = "";
    /* No image value: the limit (rounded down to 2 MiB) sizes the guest. */
    int rc = load("{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/h.elf\"},"
                  "\"linux\":{\"resources\":{\"memory\":{\"limit\":35651584}}}}",
                  NULL, &b, err, sizeof err);
    assert_int_equal(rc, 1);
    assert_int_equal(b.mem_bytes, 34u << 20);
    rt_bundle_free(&b);
    /* The image asks for more than the limit: refused. */
    rc = load(
        "{" ROOT
        ",\"annotations\":{\"org.funk.unikernel.binary\":\"/h.elf\",\"org.funk.unikernel.memory\":"
        "\"64M\"},\"linux\":{\"resources\":{\"memory\":{\"limit\":16777216}}}}",
        NULL, &b, err, sizeof err);
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "more than the memory limit"));
    rt_bundle_free(&b);
    /* Below 2 MiB: refused. */
    rc = load(
        "{" ROOT
        ",\"annotations\":{\"org.funk.unikernel.binary\":\"/h.elf\",\"org.funk.unikernel.memory\":"
        "\"1M\"}}",
        NULL, &b, err, sizeof err);
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "between 2 MiB and 4 GiB"));
    rt_bundle_free(&b);
}

static void test_bundle_classification(void **state)
{
    (void)state;
    struct rt_bundle b;
    char err[512] = "";
    /* Ordinary container: delegated. */
    assert_int_equal(
        load("{" ROOT ",\"process\":{\"args\":[\"/bin/sh\"]}}", NULL, &b, err, sizeof err), 0);
    rt_bundle_free(&b);
    /* urunc hvt: ours (the full urunc test is test_bundle_urunc). */
    assert_int_equal(
        load("{" ROOT ",\"annotations\":{\"com.urunc.unikernel.binary\":\"/u.hvt\","
             "\"com.urunc.unikernel.hypervisor\":\"hvt\",\"com.urunc.unikernel.cmdline\":\"c\"}}",
             NULL, &b, err, sizeof err),
        1);
    assert_string_equal(b.binary, "/u.hvt");
    assert_string_equal(b.cmdline, "c");
    rt_bundle_free(&b);
    /* /funk.json in the rootfs (image annotations dropped by the engine). */
    assert_int_equal(
        load("{" ROOT "}",
             "{\"binary\":\"/e.elf\",\"mode\":\"fn\",\"memory\":\"4M\",\"net\":\"net0\"}", &b, err,
             sizeof err),
        1);
    assert_string_equal(b.binary, "/e.elf");
    assert_string_equal(b.mode, "fn");
    assert_string_equal(b.net, "net0");
    assert_int_equal(b.mem_bytes, 4u << 20);
    rt_bundle_free(&b);
}

/* A bundle whose rootfs holds /urunc.json (as bunny lays urunc images out). */
static int load_urunc(const char *cfg, const char *urunc_json, struct rt_bundle *b, char *err,
                      size_t errlen)
{
    char *d = mkbundle(cfg, NULL), p[600];
    snprintf(p, sizeof p, "%s/rootfs/urunc.json", d);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(urunc_json, f);
    fclose(f);
    int rc = rt_bundle_load(d, b, err, errlen);
    rmbundle(d);
    return rc;
}

#define UA(k, v) "\"com.urunc.unikernel." k "\":\"" v "\""

static void test_urunc_values(void **state)
{
    (void)state;
    char *s;
    assert_int_equal(rt_b64_decode("aHZ0", &s), 0);
    assert_string_equal(s, "hvt");
    free(s);
    assert_int_equal(rt_b64_decode("aGk=", &s), 0);
    assert_string_equal(s, "hi");
    free(s);
    assert_int_equal(rt_b64_decode("aA==", &s), 0);
    assert_string_equal(s, "h");
    free(s);
    assert_int_equal(rt_b64_decode("", &s), 0);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(rt_b64_decode("aGk", &s), -EINVAL);   /* not a multiple of 4 */
    assert_int_equal(rt_b64_decode("a=Gk", &s), -EINVAL);  /* '=' inside */
    assert_int_equal(rt_b64_decode("aA==aGk=", &s), -EINVAL);
    assert_int_equal(rt_b64_decode("aG.k", &s), -EINVAL);
    assert_int_equal(rt_b64_decode("AGk=", &s), -EINVAL);  /* decodes to a NUL first */
    assert_null(s);
    /* urunc.json values: b64: prefix, legacy raw base64 (UTF-8), else the text itself */
    assert_int_equal(rt_urunc_decode_value("b64:L3VuaWtlcm5lbC9oZWxsby5odnQ=", &s), 0);
    assert_string_equal(s, "/unikernel/hello.hvt");
    free(s);
    assert_int_equal(rt_urunc_decode_value("bWlyYWdl", &s), 0);
    assert_string_equal(s, "mirage");
    free(s);
    assert_int_equal(rt_urunc_decode_value("/unikernel/hello.hvt", &s), 0);
    assert_string_equal(s, "/unikernel/hello.hvt");
    free(s);
    assert_int_equal(rt_urunc_decode_value("hvt", &s), 0);
    assert_string_equal(s, "hvt");
    free(s);
    assert_int_equal(rt_urunc_decode_value("//79", &s), 0); /* decodes to non-UTF-8: as is */
    assert_string_equal(s, "//79");
    free(s);
    assert_int_equal(rt_urunc_decode_value("b64:!!!!", &s), -EINVAL);
}

/* urunc's annotations: in the spec (plain) or the rootfs's /urunc.json (base64); hvt runs,
 * other hypervisors, rumprun and an initrd are refused with the reason. */
static void test_bundle_urunc(void **state)
{
    (void)state;
    struct rt_bundle b;
    char err[512] = "";
    assert_int_equal(load("{" ROOT ",\"process\":{\"args\":[\"/unikernel/hello.hvt\"]},"
                          "\"annotations\":{" UA("binary", "/unikernel/hello.hvt") ","
                          UA("hypervisor", "hvt") "," UA("unikernelType", "mirage") ","
                          UA("cmdline", "--x=1 y") "," UA("block", "/disk.img") ","
                          UA("blkMntPoint", "/data") "}}",
                          NULL, &b, err, sizeof err),
                     1);
    assert_string_equal(b.binary, "/unikernel/hello.hvt");
    assert_string_equal(b.cmdline, "--x=1 y");
    assert_int_equal(b.nblock, 1);
    assert_string_equal(b.block[0].name, "storage");
    assert_string_equal(b.block[0].path, "/disk.img");
    /* hvt is Solo5's KVM tender: KVM whatever the node's default (auto would pick the process
     * backend where KVM is emulated, which cannot run a plain Solo5 guest) */
    assert_int_equal(b.isolation, funk_vm_isolation_parse("kvm"));
    assert_int_not_equal(b.isolation, funk_vm_isolation_parse("process"));
    rt_bundle_free(&b);
    /* Only urunc.json (podman and the CRI drop image labels): base64 values, both spellings */
    assert_int_equal(load_urunc("{" ROOT "}",
                                "{" UA("binary", "b64:L3VuaWtlcm5lbC9oZWxsby5odnQ=") ","
                                UA("hypervisor", "aHZ0") "," UA("unikernelType", "b64:c29sbzU=")
                                "," UA("cmdline", "b64:aGVsbG8gd29ybGQ=") "}",
                                &b, err, sizeof err),
                     1);
    assert_string_equal(b.binary, "/unikernel/hello.hvt");
    assert_string_equal(b.cmdline, "hello world");
    assert_int_equal(b.nblock, 0);
    rt_bundle_free(&b);
    /* Incomplete spec annotations: urunc.json wins, as in urunc */
    assert_int_equal(load_urunc("{" ROOT ",\"annotations\":{" UA("binary", "/other") "}}",
                                "{" UA("binary", "/u.hvt") "," UA("hypervisor", "hvt") "}", &b,
                                err, sizeof err),
                     1);
    assert_string_equal(b.binary, "/u.hvt");
    rt_bundle_free(&b);
    /* Hypervisors funk does not run: refused, naming it and pointing at urunc */
    const char *hvs[] = {"qemu", "firecracker", "spt", "hedge"};
    for (size_t i = 0; i < sizeof hvs / sizeof hvs[0]; i++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg,
                 "{" ROOT ",\"annotations\":{" UA("binary", "/k") ","
                 "\"com.urunc.unikernel.hypervisor\":\"%s\"}}",
                 hvs[i]);
        err[0] = '\0';
        assert_int_equal(load(cfg, NULL, &b, err, sizeof err), -ENOTSUP);
        assert_non_null(strstr(err, hvs[i]));
        assert_non_null(strstr(err, "run this image with urunc"));
        rt_bundle_free(&b);
    }
    assert_int_equal(load_urunc("{" ROOT "}", "{" UA("binary", "/k") "," UA("hypervisor", "cWVtdQ==") "}",
                                &b, err, sizeof err),
                     -ENOTSUP);
    assert_non_null(strstr(err, "'qemu'"));
    assert_non_null(strstr(err, "rootfs /urunc.json"));
    rt_bundle_free(&b);
    assert_int_equal(load("{" ROOT ",\"annotations\":{" UA("binary", "/k") "," UA("hypervisor", "hvt")
                          "," UA("unikernelType", "rumprun") "}}",
                          NULL, &b, err, sizeof err),
                     -ENOTSUP);
    assert_non_null(strstr(err, "rumprun"));
    rt_bundle_free(&b);
    assert_int_equal(load("{" ROOT ",\"annotations\":{" UA("binary", "/k") "," UA("hypervisor", "hvt")
                          "," UA("initrd", "/i.img") "}}",
                          NULL, &b, err, sizeof err),
                     -ENOTSUP);
    assert_non_null(strstr(err, "initrd"));
    rt_bundle_free(&b);
    /* Hostile values: paths leaving the rootfs, non-strings, bad base64, no binary, huge file */
    assert_int_equal(load("{" ROOT ",\"annotations\":{" UA("binary", "/../../bin/sh") ","
                          UA("hypervisor", "hvt") "}}",
                          NULL, &b, err, sizeof err),
                     -EINVAL);
    rt_bundle_free(&b);
    assert_int_equal(load("{" ROOT ",\"annotations\":{" UA("binary", "/k") "," UA("hypervisor", "hvt")
                          "," UA("block", "/../etc/shadow") "}}",
                          NULL, &b, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "block"));
    rt_bundle_free(&b);
    assert_int_equal(load_urunc("{" ROOT "}", "{" UA("binary", "/k") ",\"com.urunc.unikernel.hypervisor\":7}",
                                &b, err, sizeof err),
                     -EINVAL);
    rt_bundle_free(&b);
    assert_int_equal(load_urunc("{" ROOT "}", "{" UA("binary", "b64:@@@@") "," UA("hypervisor", "hvt") "}",
                                &b, err, sizeof err),
                     -EINVAL);
    rt_bundle_free(&b);
    assert_int_equal(load_urunc("{" ROOT "}", "{" UA("hypervisor", "hvt") "}", &b, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "binary is missing"));
    rt_bundle_free(&b);
    assert_int_equal(load_urunc("{" ROOT "}", "[1,2]", &b, err, sizeof err), -EINVAL);
    rt_bundle_free(&b);
    char *big = malloc(70000);
    assert_non_null(big);
    memset(big, ' ', 69999);
    big[0] = '{';
    big[69998] = '}';
    big[69999] = '\0';
    assert_int_equal(load_urunc("{" ROOT "}", big, &b, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "larger than"));
    rt_bundle_free(&b);
    free(big);
    /* /urunc.json is resolved inside the rootfs: a symlink out of it names the rootfs's own
     * (missing) file, so the bundle is an ordinary container, never the host file parsed */
    {
        char *d = mkbundle("{" ROOT "}", NULL), p[600], t[600];
        snprintf(t, sizeof t, "%s/host.json", d);
        FILE *f = fopen(t, "w");
        assert_non_null(f);
        fputs("{" UA("binary", "/k") "," UA("hypervisor", "hvt") "}", f);
        fclose(f);
        snprintf(p, sizeof p, "%s/rootfs/urunc.json", d);
        assert_int_equal(symlink("../../host.json", p), 0);
        assert_int_equal(rt_bundle_load(d, &b, err, sizeof err), 0);
        rt_bundle_free(&b);
        snprintf(t, sizeof t, "%s/host.json", d);
        assert_int_equal(unlink(p), 0);
        assert_int_equal(symlink(t, p), 0); /* absolute: also inside the rootfs */
        assert_int_equal(rt_bundle_load(d, &b, err, sizeof err), 0);
        rt_bundle_free(&b);
        rmbundle(d);
    }
    /* funk's /funk.json wins over urunc.json in the same rootfs */
    {
        char *d = mkbundle("{" ROOT "}", "{\"binary\":\"/f.elf\"}"), p[600];
        snprintf(p, sizeof p, "%s/rootfs/urunc.json", d);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("{" UA("binary", "/k") "," UA("hypervisor", "qemu") "}", f);
        fclose(f);
        assert_int_equal(rt_bundle_load(d, &b, err, sizeof err), 1);
        assert_string_equal(b.binary, "/f.elf");
        rt_bundle_free(&b);
        rmbundle(d);
    }
    /* funk's own description wins over urunc's */
    assert_int_equal(load_urunc("{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/f.elf\"}}",
                                "{" UA("binary", "/k") "," UA("hypervisor", "qemu") "}", &b, err,
                                sizeof err),
                     1);
    assert_string_equal(b.binary, "/f.elf");
    rt_bundle_free(&b);
}

static void test_bundle_errors(void **state)
{
    (void)state;
    static const struct {
        const char *cfg, *fj, *msg;
    } cases[] = {
        {"{", NULL, "config.json"},
        {"[]", NULL, "not a JSON object"},
        {"{\"process\":{}}", NULL, "root.path is missing"},
        {"{" ROOT ",\"annotations\":[]}", NULL, "annotations is not an object"},
        {"{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/../x\"}}", NULL,
         "not a path inside the rootfs"},
        {"{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/"
                  "h\",\"org.funk.unikernel.mode\":\"x\"}}",
         NULL, "is not console or fn"},
        {"{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/"
                  "h\",\"org.funk.unikernel.block\":\"nodisk\"}}",
         NULL, "is not NAME=/path/in/rootfs"},
        {"{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/"
                  "h\",\"org.funk.unikernel.isolation\":\"vm\"}}",
         NULL, "is not kvm, process or auto"},
        {"{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/"
                  "h\",\"org.funk.unikernel.net\":\"a b\"}}",
         NULL, "not a manifest name"},
        {"{" ROOT
         ",\"annotations\":{\"org.funk.unikernel.binary\":\"/h\"},\"process\":{\"args\":\"x\"}}",
         NULL, "process.args is not an array"},
        {"{" ROOT
         ",\"annotations\":{\"org.funk.unikernel.binary\":\"/h\"},\"process\":{\"args\":[1]}}",
         NULL, "is not a string"},
        {"{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/"
                  "h\"},\"process\":{\"env\":[\"NOEQUALS\"]}}",
         NULL, "is not KEY=VALUE"},
        {"{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/"
                  "h\"},\"linux\":{\"namespaces\":[{\"type\":"
         "\"time\"}]}}",
         NULL, "unknown type"},
        {"{" ROOT ",\"annotations\":{\"org.funk.unikernel.binary\":\"/"
                  "h\"},\"linux\":{\"namespaces\":[{\"type\":"
         "\"user\"}]}}",
         NULL, "user namespaces are not supported"},
        {"{" ROOT "}", "{\"cmdline\":\"x\"}", "\"binary\" is missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rt_bundle b;
        char err[512] = "";
        int rc = load(cases[i].cfg, cases[i].fj, &b, err, sizeof err);
        if (rc >= 0 || !strstr(err, cases[i].msg))
            fail_msg("case %zu (%s): rc %d, message '%s', expected '%s'", i, cases[i].cfg, rc, err,
                     cases[i].msg);
        rt_bundle_free(&b);
    }
    struct rt_bundle b;
    char err[512] = "";
    assert_int_equal(rt_bundle_load("/nonexistent/bundle", &b, err, sizeof err), -ENOENT);
    rt_bundle_free(&b);
}

/* Parses raw bytes written to one end of a socketpair. */
static int parse(const char *raw, size_t len, struct wd_request *r)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[1], raw, len), (ssize_t)len);
    shutdown(sv[1], SHUT_WR);
    int rc = wd_read_request(sv[0], r, 5000);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

static void test_http_parse(void **state)
{
    (void)state;
    struct wd_request r;
    static const char req[] =
        "POST /fn/x?a=1&b=2 HTTP/1.1\r\nHost: h\r\nX-Thing:  spaced value  \r\n"
        "Content-Length: 5\r\n\r\nhello";
    assert_int_equal(parse(req, sizeof req - 1, &r), 0);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.path, "/fn/x");
    assert_string_equal(r.query, "a=1&b=2");
    assert_string_equal(wd_header_get(&r, "x-thing"), "spaced value");
    assert_int_equal(r.body_len, 5);
    assert_memory_equal(r.body, "hello", 5);
    wd_request_free(&r);

    static const char chunked[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
    assert_int_equal(parse(chunked, sizeof chunked - 1, &r), 0);
    assert_int_equal(r.body_len, 7);
    assert_memory_equal(r.body, "abcdefg", 7);
    wd_request_free(&r);

    static const char get[] = "GET /_/health HTTP/1.1\r\n\r\n";
    assert_int_equal(parse(get, sizeof get - 1, &r), 0);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(r.query, "");
    wd_request_free(&r);
}

static void test_http_errors(void **state)
{
    (void)state;
    struct wd_request r;
    static const struct {
        const char *raw;
        int want;
    } cases[] = {
        {"garbage\r\n\r\n", 400},
        {"GET relative HTTP/1.1\r\n\r\n", 400},
        {"GET / SPDY/3\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        /* a chunk size that wraps body_len + n past zero must not reach memcpy */
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n"
         "ffffffffffffffff\r\nxy",
         413},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400},
        {"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\n", 400}, /* closed before the blank line */
        /* two readings of where a body ends: refused, a kept connection would be desynced */
        {"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\na", 400},
        {"POST / HTTP/1.1\r\nContent-Length : 1\r\n\r\na", 400},
        {"POST / HTTP/1.1\r\nX: a\r\n Content-Length: 1\r\n\r\na", 400},
        {"", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].raw, strlen(cases[i].raw), &r);
        if (rc != cases[i].want)
            fail_msg("case %zu: got %d, expected %d", i, rc, cases[i].want);
        wd_request_free(&r);
    }
    /* Headers beyond the limit: 431. */
    size_t n = WD_MAX_HEAD + 4096;
    char *big = malloc(n + 64);
    assert_non_null(big);
    size_t o = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX-Big: ");
    memset(big + o, 'a', n - o);
    assert_int_equal(parse(big, n, &r), 431);
    wd_request_free(&r);
    free(big);
}

/* Several requests in one stream (a kept-alive connection, pipelined): each read takes exactly
 * one, keep_alive follows the version and Connection. */
static void test_http_keepalive_stream(void **state)
{
    (void)state;
    static const char raw[] =
        "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
        "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
        "GET /c HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n"
        "GET /d HTTP/1.0\r\n\r\n"
        "GET /e HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[1], raw, sizeof raw - 1), (ssize_t)(sizeof raw - 1));
    shutdown(sv[1], SHUT_WR);
    struct wd_rbuf b;
    wd_rbuf_init(&b, sv[0]);
    static const struct {
        const char *path, *body;
        int keep;
    } want[] = {{"/a", "abc", 1}, {"/b", "de", 1}, {"/c", "", 0}, {"/d", "", 0}, {"/e", "", 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct wd_request r;
        assert_int_equal(wd_read_request_buf(&b, &r, i ? 1000 : 0, 5000), 0);
        assert_string_equal(r.path, want[i].path);
        assert_int_equal(r.body_len, strlen(want[i].body));
        assert_memory_equal(r.body ? r.body : "", want[i].body, r.body_len);
        assert_int_equal(r.keep_alive, want[i].keep);
        wd_request_free(&r);
    }
    struct wd_request r;
    assert_int_equal(wd_read_request_buf(&b, &r, 1000, 5000), -1); /* EOF between requests */
    wd_request_free(&r);
    wd_rbuf_free(&b);
    close(sv[0]);
    close(sv[1]);
}

/* Upstream answers (http mode): framing by Content-Length, chunks or the close; 1xx skipped;
 * what makes a connection reusable; malformed answers. */
static int parse_resp(const char *raw, size_t len, int head_req, struct wd_response *res,
                      size_t *left)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[1], raw, len), (ssize_t)len);
    shutdown(sv[1], SHUT_WR);
    struct wd_rbuf b;
    wd_rbuf_init(&b, sv[0]);
    b.deadline = wd_mono_ms() + 5000;
    int rc = wd_read_response(&b, head_req, res);
    *left = b.len - b.off;
    wd_rbuf_free(&b);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

static void test_http_response(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        int head_req, rc;
        unsigned status;
        const char *body;
        int keep;
    } cases[] = {
        {"HTTP/1.1 201 Created\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok", 0, 0, 201, "ok", 1},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, 0, 200,
         "x", 1},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n1\r\nd\r\n0\r\nT: "
         "1\r\n\r\n",
         0, 0, 200, "abcd", 1},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", 0, 0, 200, "x", 0},
        {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, 0, 200, "x", 0},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", 0, 0, 200, "x",
         1},
        {"HTTP/1.1 200 OK\n\nup to the close", 0, 0, 200, "up to the close", 0},
        {"HTTP/1.1 204 No Content\r\n\r\n", 0, 0, 204, "", 1},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 1, 0, 200, "", 1}, /* HEAD */
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA", 0, 0, 200, "x", 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", 0, -ECONNRESET, 0, NULL, 0},
        {"", 0, -ECONNRESET, 0, NULL, 0},
        {"SSH-2.0-OpenSSH\r\n\r\n", 0, -EPROTO, 0, NULL, 0},
        {"HTTP/1.1 2000 OK\r\n\r\n", 0, -EPROTO, 0, NULL, 0},
        {"HTTP/1.1 101 Switching\r\n\r\n", 0, -EPROTO, 0, NULL, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", 0, -EPROTO, 0, NULL,
         0},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, -EPROTO, 0, NULL, 0},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0, -EPROTO, 0,
         NULL, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", 0, -EFBIG, 0, NULL, 0},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", 0, -EFBIG, 0,
         NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wd_response res;
        size_t left;
        int rc = parse_resp(cases[i].raw, strlen(cases[i].raw), cases[i].head_req, &res, &left);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d, expected %d", i, rc, cases[i].rc);
        if (rc == 0) {
            if (res.status != cases[i].status || res.keep != cases[i].keep ||
                res.body_len != strlen(cases[i].body) ||
                memcmp(res.body ? res.body : "", cases[i].body, res.body_len) != 0)
                fail_msg("case %zu: status %u keep %d body '%.*s'", i, res.status, res.keep,
                         (int)res.body_len, res.body ? res.body : "");
        }
        assert_true(rc == 0 || !res.keep);
        assert_true(strlen(cases[i].raw) == 0 || res.got > 0);
        wd_response_free(&res);
    }
}

/* ---- paths inside a hostile rootfs --------------------------------------------------------- */

static void put(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

/* What fd holds (a short file), or "" */
static const char *slurp_fd(int fd, char *buf, size_t n)
{
    ssize_t r = pread(fd, buf, n - 1, 0);
    buf[r > 0 ? r : 0] = '\0';
    return buf;
}

typedef int (*resolve_fn)(int rootfd, const char *path, int flags);

/* T/host is the host: a victim file and an ELF; T/root is the rootfs, with every way out we know:
 * an absolute symlink to the host dir (and an in-rootfs copy of that same path, which is what
 * the lookup must reach), a relative symlink climbing out, "..", a symlink as the last component,
 * a loop, a fifo. Both the openat2 lookup and the fallback walk must give the same answers. */
static void check_resolver(const char *t, resolve_fn fn, const char *what)
{
    char p[512], buf[64];
    snprintf(p, sizeof p, "%s/root", t);
    int rootfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(rootfd >= 0);
    static const struct {
        const char *path, *want; /* want: the file's bytes, or NULL for an error */
        int err;
    } cases[] = {
        {"/inner/file.txt", "INNER", 0},
        {"inner/file.txt", "INNER", 0},
        {"//inner/./file.txt", "INNER", 0},
        {"/abs", "INNER", 0},              /* abs -> /inner/file.txt */
        {"/rel", "INNER", 0},              /* rel -> inner/file.txt */
        {"/d/victim.img", "IN-ROOTFS", 0}, /* d -> T/host: the rootfs's T/host */
        {"/last", "IN-ROOTFS", 0},         /* last -> T/host/victim.img */
        {"/d/hello.elf", NULL, -ENOENT},   /* only the host has it */
        {"/up/victim.img", NULL, -ENOENT}, /* up -> ../host */
        {"/../host/victim.img", NULL, -ENOENT},
        {"/inner/../../host/victim.img", NULL, -ENOENT},
        {"/inner/../../../../../../../../", NULL, -EISDIR}, /* "..": stays at the root */
        {"/loop", NULL, -ELOOP},
        {"/inner/file.txt/x", NULL, -ENOTDIR},
        {"/missing", NULL, -ENOENT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = fn(rootfd, cases[i].path, O_RDONLY);
        if (cases[i].want) {
            if (fd < 0)
                fail_msg("%s: %s: %s", what, cases[i].path, strerror(-fd));
            assert_string_equal(slurp_fd(fd, buf, sizeof buf), cases[i].want);
            close(fd);
        } else if (cases[i].err == -EISDIR) {
            /* The root directory itself: it opens, and it is the rootfs. */
            struct stat a, b;
            assert_true(fd >= 0);
            assert_int_equal(fstat(fd, &a), 0);
            assert_int_equal(fstat(rootfd, &b), 0);
            assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
            close(fd);
        } else {
            if (fd != cases[i].err)
                fail_msg("%s: %s: expected %s, got %s", what, cases[i].path,
                         strerror(-cases[i].err), fd >= 0 ? "an open file" : strerror(-fd));
        }
    }
    /* Writable opens reach only the rootfs's copy. */
    int fd = fn(rootfd, "/d/victim.img", O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "OVERWRITE", 9, 0), 9);
    close(fd);
    snprintf(p, sizeof p, "%s/host/victim.img", t);
    fd = open(p, O_RDONLY | O_CLOEXEC);
    assert_string_equal(slurp_fd(fd, buf, sizeof buf), "VICTIM");
    close(fd);
    snprintf(p, sizeof p, "%s/root%s/host/victim.img", t, t);
    put(p, "IN-ROOTFS");
    close(rootfd);
}

static void test_path_in_root(void **state)
{
    (void)state;
    char t[] = "/tmp/funk-oci-unit-path.XXXXXX", p[512], q[512];
    assert_non_null(mkdtemp(t));
    const char *dirs[] = {"host", "root", "root/inner"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", t, dirs[i]);
        assert_int_equal(mkdir(p, 0755), 0);
    }
    snprintf(p, sizeof p, "%s/host/victim.img", t);
    put(p, "VICTIM");
    snprintf(p, sizeof p, "%s/host/hello.elf", t);
    put(p, "HOST-ELF");
    snprintf(p, sizeof p, "%s/root/inner/file.txt", t);
    put(p, "INNER");
    snprintf(p, sizeof p, "mkdir -p '%s/root%s/host'", t, t);
    assert_int_equal(system(p), 0);
    snprintf(p, sizeof p, "%s/root%s/host/victim.img", t, t);
    put(p, "IN-ROOTFS");
    struct {
        const char *name, *target; /* target: %s is T */
    } links[] = {{"d", "%s/host"},           {"last", "%s/host/victim.img"}, {"up", "../host"},
                 {"abs", "/inner/file.txt"}, {"rel", "inner/file.txt"},      {"loop", "loop"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(p, sizeof p, "%s/root/%s", t, links[i].name);
        snprintf(q, sizeof q, links[i].target, t);
        assert_int_equal(symlink(q, p), 0);
    }
    snprintf(p, sizeof p, "%s/root/fifo", t);
    assert_int_equal(mkfifo(p, 0600), 0);

    check_resolver(t, rt_resolve_in_root, "openat2");
    check_resolver(t, rt_walk_in_root, "walk");

    /* rt_open_in_root: regular files only, and a fifo is refused without being opened (an open
     * for reading would block here forever). */
    snprintf(p, sizeof p, "%s/root", t);
    int rootfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(rt_open_in_root(rootfd, "/fifo", O_RDONLY), -EINVAL);
    assert_int_equal(rt_open_in_root(rootfd, "/inner", O_RDONLY), -EINVAL);
    assert_int_equal(rt_open_in_root(rootfd, "/d/hello.elf", O_RDONLY), -ENOENT);
    int fd = rt_open_in_root(rootfd, "/abs", O_RDONLY);
    assert_true(fd >= 0);
    close(fd);
    close(rootfd);
    char *d = strdup(t);
    rmbundle(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_bundle_annotations),
        cmocka_unit_test(test_bundle_accel_agent),
        cmocka_unit_test(test_bundle_memory_limit),
        cmocka_unit_test(test_bundle_classification),
        cmocka_unit_test(test_urunc_values),
        cmocka_unit_test(test_bundle_urunc),
        cmocka_unit_test(test_bundle_errors),
        cmocka_unit_test(test_http_parse),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_http_keepalive_stream),
        cmocka_unit_test(test_http_response),
        cmocka_unit_test(test_path_in_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
