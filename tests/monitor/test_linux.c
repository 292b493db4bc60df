/* SPDX-License-Identifier: Apache-2.0 */
/* libfunk-vm as a library user starts Linux guests: argv/env in, stdin/stdout/exit status out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <funk/abi/funk.h>
#include <funk/vm.h>

#define BUSYBOX "/bin/busybox"

struct io_state {
    const char *in;
    int delivered;
    unsigned status;
    char out[4096];
    size_t out_len;
    int sends;
    char log[8192];
    size_t log_len;
};

static int t_recv(void *opaque, struct funk_vm_request *req)
{
    struct io_state *s = opaque;
    if (s->delivered++)
        return 1;
    memset(req, 0, sizeof *req);
    req->body = s->in;
    req->body_len = strlen(s->in);
    req->id = 7;
    return 0;
}

static int t_send(void *opaque, const struct funk_vm_response *r)
{
    struct io_state *s = opaque;
    s->sends++;
    s->status = r->status;
    if (r->body_len > sizeof s->out)
        return -E2BIG;
    if (r->body_len)
        memcpy(s->out, r->body, r->body_len);
    s->out_len = r->body_len;
    return 0;
}

static void t_console(void *opaque, const char *d, size_t n)
{
    struct io_state *s = opaque;
    if (n > sizeof s->log - 1 - s->log_len)
        n = sizeof s->log - 1 - s->log_len;
    memcpy(s->log + s->log_len, d, n);
    s->log_len += n;
    s->log[s->log_len] = '\0';
}

static void *busybox(size_t *len)
{
    FILE *f = fopen(BUSYBOX, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static const char *bundle_dir;
static const struct funk_vm_file *given;
static size_t ngiven;

static void run_guest(const char *const *argv, const char *const *env, struct io_state *s,
                      struct funk_vm_result *res)
{
    size_t len;
    void *elf = busybox(&len);
    if (!elf) {
        fprintf(stderr, "SKIP: %s (busybox-static) missing: this test is NOT RUN\n", BUSYBOX);
        skip();
    }
    struct funk_vm *vm;
    assert_int_equal(funk_vm_shell_new(64u << 20, FUNK_VM_F_PROCESS | FUNK_VM_F_LINUX, &vm), 0);
    struct funk_vm_boot boot = {
        .argv = argv, .env = env, .bundle = bundle_dir, .files = given, .nfiles = ngiven};
    int rc = funk_vm_load(vm, elf, len, &boot);
    free(elf);
    if (rc)
        fprintf(stderr, "load: %s\n", funk_vm_error(vm));
    assert_int_equal(rc, 0);
    struct funk_vm_io io = {.recv = t_recv, .send = t_send, .console = t_console, .opaque = s};
    assert_int_equal(funk_vm_run(vm, &io, res), 0);
    funk_vm_delete(vm);
}

static void test_stdin_stdout_status(void **state)
{
    (void)state;
    struct io_state s = {.in = "one two three\nfour\n"};
    struct funk_vm_result res;
    const char *argv[] = {BUSYBOX, "wc", "-w", NULL};
    run_guest(argv, NULL, &s, &res);
    assert_int_equal(res.exit, FUNK_VM_EXIT_HALT);
    assert_int_equal(res.status, 0);
    assert_int_equal(s.sends, 1);
    assert_int_equal(s.status, 200);
    assert_int_equal(s.out_len, 2);
    assert_memory_equal(s.out, "4\n", 2);
}

static void test_env_and_failure_status(void **state)
{
    (void)state;
    struct io_state s = {.in = ""};
    struct funk_vm_result res;
    /* env prints the guest's environment; then a failing applet: status 1 -> 500 */
    const char *argv[] = {BUSYBOX, "env", NULL};
    const char *env[] = {"FUNK_A=1", "FUNK_B=two words", NULL};
    run_guest(argv, env, &s, &res);
    assert_int_equal(res.exit, FUNK_VM_EXIT_HALT);
    assert_int_equal(res.status, 0);
    s.out[s.out_len < sizeof s.out ? s.out_len : sizeof s.out - 1] = '\0';
    assert_string_equal(s.out, "FUNK_A=1\nFUNK_B=two words\n");

    struct io_state f = {.in = "x"};
    const char *argv2[] = {BUSYBOX, "cat", "/etc/passwd", NULL};
    run_guest(argv2, NULL, &f, &res);
    assert_int_equal(res.exit, FUNK_VM_EXIT_HALT);
    assert_int_equal(res.status, 1);
    assert_int_equal(f.status, 500);
    assert_int_equal(f.out_len, 0);
    assert_non_null(strstr(f.log, "/etc/passwd")); /* cat's own error went to the log */
}

static void test_bundle(void **state)
{
    (void)state;
    char dir[] = "/tmp/funk-linux-lib.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("bundled\n", f);
    fclose(f);
    bundle_dir = dir;
    struct io_state s = {.in = ""};
    struct funk_vm_result res;
    const char *argv[] = {BUSYBOX, "cat", "/f.txt", NULL};
    run_guest(argv, NULL, &s, &res);
    bundle_dir = NULL;
    unlink(path);
    rmdir(dir);
    assert_int_equal(res.exit, FUNK_VM_EXIT_HALT);
    assert_int_equal(res.status, 0);
    assert_int_equal(s.out_len, 8);
    assert_memory_equal(s.out, "bundled\n", 8);
}

static void test_given_files(void **state)
{
    (void)state;
    /* a secret the way funkd would pass one, no directory on disk */
    static const struct funk_vm_file files[] = {
        {"/var/openfaas/secrets/api-key", "s3cret", 6},
        {"/var/openfaas/secrets/empty", NULL, 0},
    };
    given = files;
    ngiven = 2;
    struct io_state s = {.in = ""};
    struct funk_vm_result res;
    const char *argv[] = {BUSYBOX, "cat", "/var/openfaas/secrets/api-key", NULL};
    run_guest(argv, NULL, &s, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(s.out_len, 6);
    assert_memory_equal(s.out, "s3cret", 6);
    struct io_state l = {.in = ""};
    const char *argv2[] = {BUSYBOX, "ls", "/var/openfaas/secrets", NULL};
    run_guest(argv2, NULL, &l, &res);
    given = NULL;
    ngiven = 0;
    assert_int_equal(res.status, 0);
    l.out[l.out_len < sizeof l.out ? l.out_len : sizeof l.out - 1] = '\0';
    assert_string_equal(l.out, "api-key\nempty\n");

    /* paths that could name something outside or twice are refused at load */
    static const struct funk_vm_file bad[][2] = {
        {{"relative", "x", 1}, {"/ok", "x", 1}},
        {{"/a/../b", "x", 1}, {"/ok", "x", 1}},
        {{"/dup", "x", 1}, {"/dup", "y", 1}},
        {{"/f", "x", 1}, {"/f/g", "y", 1}},
    };
    size_t len;
    void *elf = busybox(&len);
    if (!elf)
        skip();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct funk_vm *vm;
        assert_int_equal(funk_vm_shell_new(64u << 20, FUNK_VM_F_PROCESS | FUNK_VM_F_LINUX, &vm), 0);
        struct funk_vm_boot boot = {.argv = argv, .files = bad[i], .nfiles = 2};
        int rc = funk_vm_load(vm, elf, len, &boot);
        assert_true(rc == -EINVAL || rc == -EEXIST || rc == -ENOTDIR);
        assert_non_null(strstr(funk_vm_error(vm), "bundle"));
        funk_vm_delete(vm);
    }
    free(elf);
}

/* One run of elf (a possibly patched busybox) printing its banner; its first log line. */
static void banner(const void *elf, size_t len, char *line, size_t n)
{
    struct funk_vm *vm;
    assert_int_equal(funk_vm_shell_new(64u << 20, FUNK_VM_F_PROCESS | FUNK_VM_F_LINUX, &vm), 0);
    static const char *const argv[] = {BUSYBOX, "wc", "--help", NULL}; /* banner on stderr */
    struct funk_vm_boot boot = {.argv = argv};
    assert_int_equal(funk_vm_load(vm, elf, len, &boot), 0);
    /* the caller's buffer may change once loaded: the guest runs what was loaded */
    uint8_t *b = (uint8_t *)elf;
    uint8_t saved[16];
    memcpy(saved, b + len / 2, sizeof saved);
    memset(b + len / 2, 0xcc, sizeof saved);
    struct io_state s = {.in = ""};
    struct funk_vm_io io = {.recv = t_recv, .send = t_send, .console = t_console, .opaque = &s};
    struct funk_vm_result res;
    assert_int_equal(funk_vm_run(vm, &io, &res), 0);
    funk_vm_delete(vm);
    memcpy(b + len / 2, saved, sizeof saved);
    assert_int_equal(res.exit, FUNK_VM_EXIT_HALT);
    const char *nl = memchr(s.log, '\n', s.log_len);
    size_t l = nl ? (size_t)(nl - s.log) : s.log_len;
    snprintf(line, n, "%.*s", (int)l, s.log);
}

/* The loader keeps the sealed images of recent programs and bundles (linux_elf.c): a program
 * or bundle of the same length with other bytes is another image, an evicted one comes back
 * intact, and a changed caller buffer never changes what runs. */
static void test_image_reuse(void **state)
{
    (void)state;
    size_t len;
    uint8_t *elf = busybox(&len);
    if (!elf) {
        fprintf(stderr, "SKIP: %s (busybox-static) missing: this test is NOT RUN\n", BUSYBOX);
        skip();
    }
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, elf, len);
    /* every "BusyBox v" banner string in the copy gets another first letter: same length */
    size_t patched = 0;
    for (size_t i = 0; i + 9 <= len; i++)
        if (memcmp(copy + i, "BusyBox v", 9) == 0) {
            copy[i] = 'X';
            patched++;
        }
    assert_true(patched > 0);
    char line[256];
    banner(elf, len, line, sizeof line);
    assert_memory_equal(line, "BusyBox v", 9);
    banner(copy, len, line, sizeof line);
    assert_memory_equal(line, "XusyBox v", 9);
    banner(elf, len, line, sizeof line);
    assert_memory_equal(line, "BusyBox v", 9);
    /* more distinct programs than the cache holds, then the first one again */
    for (char c = 'a'; c <= 'l'; c++) {
        for (size_t i = 0; i + 9 <= len; i++)
            if (memcmp(copy + i + 1, "usyBox v", 8) == 0 && copy[i] != 'B')
                copy[i] = c;
        banner(copy, len, line, sizeof line);
        assert_int_equal(line[0], c);
        assert_memory_equal(line + 1, "usyBox v", 8);
    }
    banner(elf, len, line, sizeof line);
    assert_memory_equal(line, "BusyBox v", 9);
    free(copy);
    free(elf);
    /* the same program with a bundle of the same size and other bytes sees its own bundle */
    static const struct funk_vm_file one[] = {{"/f", "one", 3}}, two[] = {{"/f", "two", 3}};
    const struct funk_vm_file *sets[] = {one, two, one};
    const char *want[] = {"one", "two", "one"};
    for (int i = 0; i < 3; i++) {
        given = sets[i];
        ngiven = 1;
        struct io_state s = {.in = ""};
        struct funk_vm_result res;
        const char *argv[] = {BUSYBOX, "cat", "/f", NULL};
        run_guest(argv, NULL, &s, &res);
        given = NULL;
        ngiven = 0;
        assert_int_equal(res.status, 0);
        assert_int_equal(s.out_len, 3);
        assert_memory_equal(s.out, want[i], 3);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    struct funk_vm *vm;
    /* a non-ELF is refused with a reason */
    assert_int_equal(funk_vm_shell_new(8u << 20, FUNK_VM_F_PROCESS | FUNK_VM_F_LINUX, &vm), 0);
    static const char junk[64] = "not an elf";
    assert_int_equal(funk_vm_load(vm, junk, sizeof junk, NULL), -ENOEXEC);
    assert_non_null(strstr(funk_vm_error(vm), "not an ELF"));
    funk_vm_delete(vm);
}

/* Under KVM (ring 3, one exit per call): the same I/O contract; one such guest per process at a
 * time, and a second guest after the first sees none of the first's state. */
static void test_kvm(void **state)
{
    (void)state;
    size_t len;
    void *elf = busybox(&len);
    if (!elf) {
        fprintf(stderr, "SKIP: %s (busybox-static) missing: this test is NOT RUN\n", BUSYBOX);
        skip();
    }
    struct funk_vm *vm, *vm2;
    int rc = funk_vm_shell_new(64u << 20, FUNK_VM_F_LINUX, &vm);
    if (rc == -ENOENT || rc == -EACCES || rc == -ENXIO || rc == -ENODEV) {
        fprintf(stderr, "SKIP: no usable /dev/kvm (%s): the KVM case is NOT RUN\n", strerror(-rc));
        free(elf);
        skip();
    }
    assert_int_equal(rc, 0);
    static const struct funk_vm_file files[] = {{"/var/openfaas/secrets/k", "v1", 2}};
    const char *argv[] = {BUSYBOX, "wc", "-w", NULL};
    struct funk_vm_boot boot = {.argv = argv, .files = files, .nfiles = 1};
    rc = funk_vm_load(vm, elf, len, &boot);
    if (rc)
        fprintf(stderr, "load: %s\n", funk_vm_error(vm));
    assert_int_equal(rc, 0);
    assert_int_equal(funk_vm_isolation(vm), FUNK_ISOLATION_KVM);
    /* a second KVM Linux guest while this one is loaded: refused with a reason */
    assert_int_equal(funk_vm_shell_new(64u << 20, FUNK_VM_F_LINUX, &vm2), 0);
    assert_int_equal(funk_vm_load(vm2, elf, len, &boot), -EBUSY);
    assert_non_null(strstr(funk_vm_error(vm2), "one at a time"));
    funk_vm_delete(vm2);
    struct io_state s = {.in = "one two three\nfour\n"};
    struct funk_vm_io io = {.recv = t_recv, .send = t_send, .console = t_console, .opaque = &s};
    struct funk_vm_result res;
    assert_int_equal(funk_vm_run(vm, &io, &res), 0);
    funk_vm_delete(vm);
    assert_int_equal(res.exit, FUNK_VM_EXIT_HALT);
    assert_int_equal(res.status, 0);
    assert_int_equal(s.sends, 1);
    assert_int_equal(s.status, 200);
    assert_int_equal(s.out_len, 2);
    assert_memory_equal(s.out, "4\n", 2);

    /* the next guest: its own output only, its own files, a failing applet -> 500 */
    assert_int_equal(funk_vm_shell_new(64u << 20, FUNK_VM_F_LINUX, &vm), 0);
    const char *argv2[] = {BUSYBOX, "cat", "/var/openfaas/secrets/k", "/nope", NULL};
    boot.argv = argv2;
    assert_int_equal(funk_vm_load(vm, elf, len, &boot), 0);
    free(elf);
    struct io_state t = {.in = ""};
    io.opaque = &t;
    assert_int_equal(funk_vm_run(vm, &io, &res), 0);
    funk_vm_delete(vm);
    assert_int_equal(res.exit, FUNK_VM_EXIT_HALT);
    assert_int_equal(res.status, 1);
    assert_int_equal(t.status, 500);
    assert_int_equal(t.out_len, 2);
    assert_memory_equal(t.out, "v1", 2);
    assert_non_null(strstr(t.log, "/nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdin_stdout_status),
        cmocka_unit_test(test_env_and_failure_status),
        cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_given_files),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_kvm),
        cmocka_unit_test(test_image_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
