/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of libfunk-accel: sessions, resources, plugin loading, dispatch, exec, bad input. */
#include <funk/accel.h>
#include <funk/accel_plugin.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *test_dir; /* build dir holding the test plugins and testlib */

static const char *tp(const char *name)
{
    static char buf[8][PATH_MAX];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, PATH_MAX, "%s/libfunk-accel-%s.so", test_dir, name);
    return b;
}

static const char *testlib(void)
{
    static char b[PATH_MAX];
    snprintf(b, sizeof(b), "%s/libfunk-accel-testlib.so", test_dir);
    return b;
}

static const char *evillib(void)
{
    static char b[PATH_MAX];
    snprintf(b, sizeof(b), "%s/libfunk-accel-evillib.so", test_dir);
    return b;
}

/* The exec allowlist of this run (FUNK_ACCEL_EXEC_DIR): a copy of testlib and a junk file. */
static char exec_dir[64];
static char marker[PATH_MAX]; /* evillib's constructor creates it if it is ever loaded */

static size_t slurp(const char *path, void *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n < cap ? n : 0;
}

static int put_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = write(fd, data, len) == (ssize_t)len && fchmod(fd, mode) == 0 ? 0 : -1;
    close(fd);
    return rc;
}

static int make_exec_dir(void)
{
    static char bytes[1 << 20];
    strcpy(exec_dir, "/tmp/funk-accel-exec-XXXXXX");
    if (mkdtemp(exec_dir) == NULL)
        return -1;
    size_t n = slurp(testlib(), bytes, sizeof(bytes));
    if (n == 0 || put_file(exec_dir, "testlib.so", bytes, n, 0644) < 0 ||
        put_file(exec_dir, "junk.so", "junk", 4, 0644) < 0)
        return -1;
    n = slurp(tp("tphi"), bytes, sizeof(bytes)); /* a second installed library */
    if (n == 0 || put_file(exec_dir, "tphi.so", bytes, n, 0644) < 0)
        return -1;
    snprintf(marker, sizeof(marker), "%s.marker", exec_dir);
    setenv("FUNK_ACCEL_EXEC_DIR", exec_dir, 1);
    setenv("FUNK_TEST_MARKER", marker, 1);
    return 0;
}

static void remove_exec_dir(void)
{
    char p[PATH_MAX];
    const char *names[] = {"testlib.so", "junk.so", "shared.so", "tphi.so"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", exec_dir, names[i]);
        unlink(p);
    }
    rmdir(exec_dir);
    unlink(marker);
}

/* Writes a temporary file with the given bytes; returns its path (static buffer). */
static const char *tmpfile_with(const void *data, size_t len)
{
    static char path[64];
    strcpy(path, "/tmp/funk-accel-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    if (len)
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static int teardown(void **state)
{
    (void)state;
    funk_accel_fini();
    return 0;
}

/* Initialises with noop + the tphi/tplo test plugins (by absolute path). */
static void init_test_plugins(void)
{
    char list[4 * PATH_MAX];
    snprintf(list, sizeof(list), "noop:%s:%s", tp("tphi"), tp("tplo"));
    assert_int_equal(funk_accel_init(list), 0);
}

static int op_int(funk_accel_session *s, const char *name)
{
    return funk_accel_op(s, name, NULL, 0, NULL, 0);
}

/* Runs a generic op with one string output and returns who answered ("" on error). */
static int op_who(funk_accel_session *s, const char *name, char who[16])
{
    memset(who, 0, 16);
    funk_accel_arg out = FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_STRING, who, 16);
    return funk_accel_op(s, name, NULL, 0, &out, 1);
}

/* ---- Basics -------------------------------------------------------------------------------- */

static void test_version_and_names(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_version(), FUNK_ACCEL_VERSION);
    assert_string_equal(funk_accel_op_name(FUNK_ACCEL_OP_SGEMM), "sgemm");
    assert_string_equal(funk_accel_op_name((funk_accel_op_id)99), "unknown");
    assert_string_equal(funk_accel_strerror(-EBADF), "handle is not live (released or deleted)");
    assert_string_equal(funk_accel_strerror(-12345), "unknown error");
    assert_non_null(funk_accel_strerror(-ENOEXEC));
}

/* A component or message longer than the log buffer is cut to one line, never overrun. */
static void test_log_long_line(void **state)
{
    (void)state;
    char comp[3000], msg[3000];
    memset(comp, 'c', sizeof(comp) - 1);
    comp[sizeof(comp) - 1] = '\0';
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    FILE *cap = tmpfile();
    assert_non_null(cap);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fileno(cap), 2), 2);
    funk_accel_log(FUNK_LOG_ERROR, comp, "%s", msg);
    funk_accel_log(FUNK_LOG_ERROR, "short", "%s", msg);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    char line[4096];
    rewind(cap);
    for (int i = 0; i < 2; i++) {
        assert_non_null(fgets(line, sizeof(line), cap));
        size_t n = strlen(line);
        assert_true(n > 1 && n < 1024);
        assert_int_equal(line[n - 1], '\n');
        assert_int_equal(line[0], '[');
    }
    assert_null(fgets(line, sizeof(line), cap));
    fclose(cap);
}

/* ---- Sessions ------------------------------------------------------------------------------- */

static void test_session_lifecycle(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    assert_int_equal(funk_accel_session_new(NULL), -EINVAL);
    funk_accel_session *s1, *s2;
    assert_int_equal(funk_accel_session_new(&s1), 0);
    assert_int_equal(funk_accel_noop(s1), 0);
    assert_int_equal(funk_accel_session_delete(s1), 0);
    /* Dead handles are refused, also after the slot was reused by a new session. */
    assert_int_equal(funk_accel_session_delete(s1), -EBADF);
    assert_int_equal(funk_accel_session_new(&s2), 0);
    assert_ptr_not_equal(s1, s2);
    assert_int_equal(funk_accel_noop(s1), -EBADF);
    assert_int_equal(funk_accel_session_delete(s1), -EBADF);
    assert_int_equal(funk_accel_noop(s2), 0);
    assert_int_equal(funk_accel_noop(NULL), -EINVAL);
    assert_int_equal(funk_accel_session_delete(NULL), -EINVAL);
    /* A made-up handle is never taken for a live one. */
    assert_int_equal(funk_accel_noop((funk_accel_session *)(uintptr_t)0x1234), -EBADF);
    assert_int_equal(funk_accel_session_delete(s2), 0);
}

static void test_many_sessions_no_cap(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    enum { N = 3000 };
    funk_accel_session **s = calloc(N, sizeof(*s));
    assert_non_null(s);
    for (int i = 0; i < N; i++)
        assert_int_equal(funk_accel_session_new(&s[i]), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(funk_accel_noop(s[i]), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(funk_accel_session_delete(s[i]), 0);
    free(s);
}

static void test_fini_deletes_sessions(void **state)
{
    (void)state;
    init_test_plugins();
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(funk_accel_noop(s), 0); /* opens tphi's per-session state */
    assert_int_equal(op_int(s, "tphi.sessions"), 1);
    funk_accel_fini();
    init_test_plugins();
    assert_int_equal(funk_accel_noop(s), -EBADF);
    funk_accel_session *s2;
    assert_int_equal(funk_accel_session_new(&s2), 0);
    assert_int_equal(op_int(s2, "tphi.sessions"), 1); /* the old one was closed */
    assert_int_equal(funk_accel_session_delete(s2), 0);
}

/* ---- Resources ----------------------------------------------------------------------------- */

static void test_resource_refcount(void **state)
{
    (void)state;
    funk_accel_resource *r;
    assert_int_equal(funk_accel_resource_new_buffer(&r, FUNK_ACCEL_RES_DATA, "abc", 3), 0);
    assert_int_equal(funk_accel_resource_ref(r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);
    uint8_t h[FUNK_ACCEL_HASH_SIZE];
    assert_int_equal(funk_accel_resource_hash(r, h), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);
    /* Released twice more than referenced: a clear error, no use of freed memory. */
    assert_int_equal(funk_accel_resource_release(r), -EBADF);
    assert_int_equal(funk_accel_resource_ref(r), -EBADF);
    assert_int_equal(funk_accel_resource_hash(r, h), -EBADF);
    assert_null(funk_accel_resource_get_attr(r, "x"));
    assert_int_equal(funk_accel_resource_release(NULL), -EINVAL);
}

static void test_resource_bad_input(void **state)
{
    (void)state;
    funk_accel_resource *r = NULL;
    assert_int_equal(funk_accel_resource_new_buffer(NULL, FUNK_ACCEL_RES_DATA, "a", 1), -EINVAL);
    assert_int_equal(funk_accel_resource_new_buffer(&r, FUNK_ACCEL_RES_DATA, NULL, 1), -EINVAL);
    assert_int_equal(funk_accel_resource_new_buffer(&r, FUNK_ACCEL_RES_DATA, "a", 0), -EINVAL);
    assert_int_equal(funk_accel_resource_new_buffer(&r, (funk_accel_resource_type)0, "a", 1),
                     -EINVAL);
    assert_int_equal(funk_accel_resource_new_buffer(&r, (funk_accel_resource_type)77, "a", 1),
                     -EINVAL);
    assert_int_equal(funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_MODEL, NULL), -EINVAL);
    assert_int_equal(funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_MODEL, ""), -EINVAL);
    assert_int_equal(
        funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_MODEL, "/nonexistent/funk/model.onnx"),
        -ENOENT);
    assert_int_equal(funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_MODEL, "/tmp"), -EINVAL);
    const char *empty = tmpfile_with(NULL, 0);
    assert_int_equal(funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_MODEL, empty), -EINVAL);
    unlink(empty);
    assert_null(r);
}

static void test_resource_file_and_attrs(void **state)
{
    (void)state;
    const char *p = tmpfile_with("abc", 3);
    funk_accel_resource *f, *b;
    assert_int_equal(funk_accel_resource_new_file(&f, FUNK_ACCEL_RES_MODEL, p), 0);
    unlink(p);
    assert_int_equal(funk_accel_resource_new_buffer(&b, FUNK_ACCEL_RES_MODEL, "abc", 3), 0);
    uint8_t hf[FUNK_ACCEL_HASH_SIZE], hb[FUNK_ACCEL_HASH_SIZE];
    assert_int_equal(funk_accel_resource_hash(f, hf), 0);
    assert_int_equal(funk_accel_resource_hash(b, hb), 0);
    /* Same content, same identity; and it is SHA-256("abc"). */
    assert_memory_equal(hf, hb, FUNK_ACCEL_HASH_SIZE);
    static const uint8_t abc[4] = {0xba, 0x78, 0x16, 0xbf};
    assert_memory_equal(hf, abc, 4);

    assert_null(funk_accel_resource_get_attr(b, "labels"));
    assert_int_equal(funk_accel_resource_set_attr(b, "labels", "cat\ndog"), 0);
    const char *old = funk_accel_resource_get_attr(b, "labels");
    assert_string_equal(old, "cat\ndog");
    assert_int_equal(funk_accel_resource_set_attr(b, "labels", "fish"), 0);
    assert_string_equal(funk_accel_resource_get_attr(b, "labels"), "fish");
    assert_string_equal(old, "cat\ndog"); /* still valid while the resource lives */
    assert_int_equal(funk_accel_resource_set_attr(b, NULL, "x"), -EINVAL);
    assert_int_equal(funk_accel_resource_set_attr(b, "", "x"), -EINVAL);
    assert_int_equal(funk_accel_resource_set_attr(b, "k", NULL), -EINVAL);

    /* Attributes freeze at the first registration. */
    assert_int_equal(funk_accel_init("noop"), 0);
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(funk_accel_session_register(s, b), 0);
    assert_int_equal(funk_accel_resource_set_attr(b, "input", "8x8"), -EBUSY);
    assert_int_equal(funk_accel_session_delete(s), 0);
    assert_int_equal(funk_accel_resource_release(f), 0);
    assert_int_equal(funk_accel_resource_release(b), 0);
}

static void test_registration(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    funk_accel_session *s, *other;
    funk_accel_resource *m;
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(funk_accel_session_new(&other), 0);
    assert_int_equal(funk_accel_resource_new_buffer(&m, FUNK_ACCEL_RES_MODEL, "model", 5), 0);
    assert_int_equal(funk_accel_session_register(NULL, m), -EINVAL);
    assert_int_equal(funk_accel_session_register(s, NULL), -EINVAL);
    assert_int_equal(funk_accel_session_register(s, m), 0);
    assert_int_equal(funk_accel_session_register(s, m), -EEXIST);
    funk_accel_label out[2];
    /* Used with a session it is not registered to. */
    assert_int_equal(funk_accel_image_classify(other, m, "img", 3, out, 2), -EPERM);
    assert_int_equal(funk_accel_image_classify(s, m, "img", 3, out, 2), 2);
    /* The caller drops its reference: the registration keeps the model alive. */
    assert_int_equal(funk_accel_resource_release(m), 0);
    assert_int_equal(funk_accel_image_classify(s, m, "img", 3, out, 2), 2);
    assert_int_equal(funk_accel_resource_release(m), -EBADF); /* the rest is the session's */
    assert_int_equal(funk_accel_session_unregister(s, m), 0);
    assert_int_equal(funk_accel_session_unregister(s, m), -EBADF); /* now dead */
    assert_int_equal(funk_accel_image_classify(s, m, "img", 3, out, 2), -EBADF);
    assert_int_equal(funk_accel_session_delete(s), 0);
    assert_int_equal(funk_accel_session_delete(other), 0);
}

static void test_unregister_not_registered(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    funk_accel_session *s;
    funk_accel_resource *r;
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(funk_accel_resource_new_buffer(&r, FUNK_ACCEL_RES_DATA, "d", 1), 0);
    assert_int_equal(funk_accel_session_unregister(s, r), -EPERM);
    assert_int_equal(funk_accel_session_register(s, r), 0);
    assert_int_equal(funk_accel_session_unregister(s, r), 0);
    assert_int_equal(funk_accel_session_unregister(s, r), -EPERM);
    assert_int_equal(funk_accel_resource_release(r), 0);
    assert_int_equal(funk_accel_session_delete(s), 0);
}

static void test_session_deleted_with_resources(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    funk_accel_session *s;
    funk_accel_resource *keep, *drop;
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(funk_accel_resource_new_buffer(&keep, FUNK_ACCEL_RES_MODEL, "k", 1), 0);
    assert_int_equal(funk_accel_resource_new_buffer(&drop, FUNK_ACCEL_RES_MODEL, "d", 1), 0);
    assert_int_equal(funk_accel_session_register(s, keep), 0);
    assert_int_equal(funk_accel_session_register(s, drop), 0);
    assert_int_equal(funk_accel_resource_release(drop), 0); /* only the session holds it */
    assert_int_equal(funk_accel_session_delete(s), 0);      /* drops both registrations */
    assert_int_equal(funk_accel_resource_release(drop), -EBADF);
    uint8_t h[FUNK_ACCEL_HASH_SIZE];
    assert_int_equal(funk_accel_resource_hash(keep, h), 0); /* the caller's ref remains */
    /* A new session sees it as not registered. */
    assert_int_equal(funk_accel_session_new(&s), 0);
    funk_accel_label out[1];
    assert_int_equal(funk_accel_image_classify(s, keep, "x", 1, out, 1), -EPERM);
    assert_int_equal(funk_accel_session_delete(s), 0);
    assert_int_equal(funk_accel_resource_release(keep), 0);
}

static void test_resource_slots(void **state)
{
    (void)state;
    init_test_plugins();
    funk_accel_session *s;
    funk_accel_resource *m1, *m2;
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(funk_accel_resource_new_buffer(&m1, FUNK_ACCEL_RES_MODEL, "m1", 2), 0);
    assert_int_equal(funk_accel_resource_new_buffer(&m2, FUNK_ACCEL_RES_MODEL, "m2", 2), 0);
    assert_int_equal(funk_accel_resource_set_attr(m1, "labels", "first"), 0);
    assert_int_equal(funk_accel_resource_set_attr(m2, "labels", "second"), 0);
    assert_int_equal(funk_accel_session_register(s, m1), 0);
    assert_int_equal(funk_accel_session_register(s, m2), 0);
    int frees0 = op_int(s, "tphi.frees");
    funk_accel_label out[1];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(funk_accel_image_classify(s, m1, "x", 1, out, 1), 1);
        assert_string_equal(out[0].label, "first");
        assert_int_equal(funk_accel_image_classify(s, m2, "x", 1, out, 1), 1);
        assert_string_equal(out[0].label, "second");
    }
    /* The slot dies with the resource: plugin's resource_free is called once. */
    assert_int_equal(funk_accel_resource_release(m1), 0);
    assert_int_equal(funk_accel_session_unregister(s, m1), 0);
    assert_int_equal(op_int(s, "tphi.frees"), frees0 + 1);
    /* m2 stays alive past fini: its slot is freed before the plugin goes. */
    assert_int_equal(funk_accel_session_delete(s), 0);
    funk_accel_fini();
    init_test_plugins();
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(op_int(s, "tphi.frees"), frees0 + 2);
    assert_int_equal(funk_accel_resource_release(m2), 0);
    assert_int_equal(op_int(s, "tphi.frees"), frees0 + 2);
    assert_int_equal(funk_accel_session_delete(s), 0);
}

static void test_resource_path(void **state)
{
    (void)state;
    funk_accel_resource *b;
    assert_int_equal(funk_accel_resource_new_buffer(&b, FUNK_ACCEL_RES_DATA, "hello", 5), 0);
    const char *p = funk_accel_resource_path(b);
    assert_non_null(p);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    char buf[16] = {0};
    assert_int_equal(fread(buf, 1, sizeof(buf), f), 5);
    fclose(f);
    assert_string_equal(buf, "hello");
    assert_string_equal(funk_accel_resource_path(b), p); /* created once */
    assert_int_equal(funk_accel_resource_release(b), 0);
    assert_null(funk_accel_resource_path(b));
}

/* ---- Plugins ------------------------------------------------------------------------------- */

static void test_plugin_unknown_name(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("no-such-plugin"), -ENOENT);
    assert_int_equal(funk_accel_init("noop:no-such-plugin"), -ENOENT);
    assert_int_equal(funk_accel_init("/nonexistent/libfunk-accel-x.so"), -ENOENT);
    assert_int_equal(funk_accel_init("bad.name"), -EINVAL);
    /* A failed init leaves nothing behind: a good one works next. */
    assert_int_equal(funk_accel_init("noop"), 0);
    assert_int_equal(funk_accel_init("noop"), -EALREADY);
    assert_int_equal(funk_accel_plugins(NULL, 0), 1);
}

static void test_plugin_wrong_abi(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init(tp("tpbadabi")), -ENOEXEC);
    assert_int_equal(funk_accel_init(tp("tpsmall")), -ENOEXEC);
    assert_int_equal(funk_accel_init("noop"), 0);
    assert_int_equal(funk_accel_plugin_load(tp("tpbadabi")), -ENOEXEC);
    assert_int_equal(funk_accel_plugins(NULL, 0), 1);
}

static void test_plugin_not_a_plugin(void **state)
{
    (void)state;
    /* A shared object without the descriptor. */
    assert_int_equal(funk_accel_init(testlib()), -ENOEXEC);
    /* Not a shared object at all. */
    const char *p = tmpfile_with("this is not an ELF file\n", 24);
    assert_int_equal(funk_accel_init(p), -ENOEXEC);
    unlink(p);
}

static void test_plugin_duplicate_and_load(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    assert_int_equal(funk_accel_plugin_load("noop"), -EEXIST);
    assert_int_equal(funk_accel_plugin_load(NULL), -EINVAL);
    assert_int_equal(funk_accel_plugin_load(""), -EINVAL);
    assert_int_equal(funk_accel_plugin_load("nope"), -ENOENT);
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    char who[16];
    assert_int_equal(op_who(s, "who", who), -ENOENT);
    /* Loading a plugin later puts it in dispatch order, also for existing sessions. */
    assert_int_equal(funk_accel_plugin_load(tp("tplo")), 0);
    assert_int_equal(op_who(s, "who", who), 0);
    assert_string_equal(who, "tplo");
    assert_int_equal(funk_accel_session_delete(s), 0);
}

static void test_plugin_search_path(void **state)
{
    (void)state;
    const char *old = getenv("FUNK_ACCEL_PLUGIN_PATH");
    char *saved = old ? strdup(old) : NULL;
    char path[2 * PATH_MAX];
    snprintf(path, sizeof(path), "/nonexistent:%s%s%s", test_dir, old ? ":" : "", old ? old : "");
    setenv("FUNK_ACCEL_PLUGIN_PATH", path, 1);
    assert_int_equal(funk_accel_init("tphi:tplo:noop"), 0);
    funk_accel_plugin_info info[4];
    assert_int_equal(funk_accel_plugins(info, 4), 3);
    /* Listed by priority, with what each implements. */
    assert_string_equal(info[0].name, "tphi");
    assert_string_equal(info[0].version, "1.2.3");
    assert_int_equal(info[0].priority, 500);
    assert_true(info[0].available);
    assert_int_equal(info[0].ops, (1u << FUNK_ACCEL_OP_NOOP) | (1u << FUNK_ACCEL_OP_SGEMM) |
                                      (1u << FUNK_ACCEL_OP_IMAGE_CLASSIFY) |
                                      (1u << FUNK_ACCEL_OP_GENERIC));
    assert_non_null(strstr(info[0].path, "libfunk-accel-tphi.so"));
    assert_string_equal(info[1].name, "tplo");
    assert_string_equal(info[2].name, "noop");
    assert_int_equal(info[2].ops, (1u << FUNK_ACCEL_OP_COUNT) - 1);
    funk_accel_fini();
    /* Environment-driven initialisation: an explicitly named missing plugin is an error. */
    setenv("FUNK_ACCEL_PLUGINS", "noop:missing-one", 1);
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), -ENOENT);
    setenv("FUNK_ACCEL_PLUGINS", "tplo", 1);
    assert_int_equal(funk_accel_session_new(&s), 0);
    char who[16];
    assert_int_equal(op_who(s, "who", who), 0);
    assert_string_equal(who, "tplo");
    assert_int_equal(funk_accel_session_delete(s), 0);
    funk_accel_fini();
    /* The default list tolerates missing plugins (a warning, not an error). */
    unsetenv("FUNK_ACCEL_PLUGINS");
    setenv("FUNK_ACCEL_PLUGIN_PATH", "/nonexistent", 1);
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(funk_accel_session_delete(s), 0);
    if (saved)
        setenv("FUNK_ACCEL_PLUGIN_PATH", saved, 1);
    else
        unsetenv("FUNK_ACCEL_PLUGIN_PATH");
    free(saved);
}

static void test_plugin_nodev(void **state)
{
    (void)state;
    char list[2 * PATH_MAX];
    snprintf(list, sizeof(list), "%s:noop", tp("tpnodev"));
    assert_int_equal(funk_accel_init(list), 0);
    funk_accel_plugin_info info[2];
    assert_int_equal(funk_accel_plugins(info, 2), 2);
    assert_string_equal(info[0].name, "tpnodev");
    assert_false(info[0].available);
    assert_true(info[1].available);
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(funk_accel_noop(s), 0); /* noop plugin, never tpnodev (it says -EIO) */
    assert_int_equal(op_int(s, "tpnodev.anything"), -ENODEV);
    assert_int_equal(funk_accel_session_delete(s), 0);
}

/* ---- Dispatch ------------------------------------------------------------------------------- */

static void naive(int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                  int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float acc = 0;
            for (int p = 0; p < k; p++)
                acc += a[i * lda + p] * b[p * ldb + j];
            c[i * ldc + j] = alpha * acc + beta * c[i * ldc + j];
        }
}

static void test_dispatch_order_and_fallback(void **state)
{
    (void)state;
    init_test_plugins();
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    char who[16];
    assert_int_equal(op_who(s, "who", who), 0);
    assert_string_equal(who, "tphi"); /* highest priority */
    assert_int_equal(op_who(s, "decline", who), 0);
    assert_string_equal(who, "tplo"); /* tphi said -ENOTSUP */
    assert_int_equal(op_who(s, "only_lo", who), 0);
    assert_string_equal(who, "tplo"); /* tphi said -ENOENT */
    assert_int_equal(op_who(s, "tplo.who", who), 0);
    assert_string_equal(who, "tplo"); /* targeted */
    assert_int_equal(op_who(s, "tphi.decline", who), -ENOTSUP);
    assert_int_equal(op_who(s, "no_such_op", who), -ENOENT);
    assert_int_equal(op_who(s, "tphi.no_such_op", who), -ENOENT);
    assert_int_equal(op_who(s, "tphi.", who), -EINVAL);
    assert_int_equal(op_who(s, "unknownplugin.who", who), -ENOENT);

    /* noop echo through the generic op, with the bytes written reported in `used`. */
    char in[] = "ping", out[8] = {0};
    funk_accel_arg ia = FUNK_ACCEL_ARG_BYTES_OF(in, 4), oa = FUNK_ACCEL_ARG_BYTES_OF(out, 8);
    assert_int_equal(funk_accel_op(s, "noop.echo", &ia, 1, &oa, 1), 1);
    assert_int_equal(oa.used, 4);
    assert_memory_equal(out, "ping", 4);
    funk_accel_arg small = FUNK_ACCEL_ARG_BYTES_OF(out, 2);
    assert_int_equal(funk_accel_op(s, "noop.echo", &ia, 1, &small, 1), -ENOSPC);

    /* tphi declines sgemm, noop computes it: odd sizes and padded strides. */
    enum { M = 5, N = 7, K = 3, LDA = 4, LDB = 9, LDC = 8 };
    float a[M * LDA], b[K * LDB], c[M * LDC], ref[M * LDC];
    for (int i = 0; i < M * LDA; i++)
        a[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < K * LDB; i++)
        b[i] = (float)(i % 5) * 0.5f;
    for (int i = 0; i < M * LDC; i++)
        c[i] = ref[i] = (float)i;
    assert_int_equal(funk_accel_sgemm(s, M, N, K, 2.0f, a, LDA, b, LDB, 0.5f, c, LDC), 0);
    naive(M, N, K, 2.0f, a, LDA, b, LDB, 0.5f, ref, LDC);
    for (int i = 0; i < M * LDC; i++)
        assert_float_equal(c[i], ref[i], 1e-4);

    /* tphi's noop wins and counts; it received its plugin and session state. */
    int before = op_int(s, "tphi.noops");
    for (int i = 0; i < 10; i++)
        assert_int_equal(funk_accel_noop(s), 0);
    assert_int_equal(op_int(s, "tphi.noops"), before + 10);

    /* classify without a model: tphi declines, noop answers deterministically. */
    funk_accel_label l1[5], l2[5];
    memset(l1, 0, sizeof(l1));
    memset(l2, 0, sizeof(l2));
    assert_int_equal(funk_accel_image_classify(s, NULL, "image-a", 7, l1, 5), 5);
    assert_int_equal(funk_accel_image_classify(s, NULL, "image-a", 7, l2, 5), 5);
    assert_memory_equal(l1, l2, sizeof(l1));
    assert_true(l1[0].score > l1[4].score);
    assert_int_equal(funk_accel_image_classify(s, NULL, "image-a", 7, l1, 2), 2);
    funk_accel_detection d[8];
    int nd = funk_accel_image_detect(s, NULL, "image-b", 7, 50, d, 8);
    assert_true(nd > 0 && nd <= 8);
    for (int i = 0; i < nd; i++)
        assert_true(d[i].label.score >= 0.5f);

    /* Per-session plugin state: opened once per session, closed at delete. */
    funk_accel_session *s2;
    int open0 = op_int(s, "tphi.sessions");
    assert_int_equal(funk_accel_session_new(&s2), 0);
    assert_int_equal(funk_accel_noop(s2), 0);
    assert_int_equal(op_int(s, "tphi.sessions"), open0 + 1);
    assert_int_equal(funk_accel_session_delete(s2), 0);
    assert_int_equal(op_int(s, "tphi.sessions"), open0);
    assert_int_equal(funk_accel_session_delete(s), 0);
}

static void test_dispatch_not_supported(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init(tp("tplo")), 0);
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    float a = 1, b = 1, c = 0;
    assert_int_equal(funk_accel_noop(s), -ENOTSUP);
    assert_int_equal(funk_accel_sgemm(s, 1, 1, 1, 1, &a, 1, &b, 1, 0, &c, 1), -ENOTSUP);
    funk_accel_label l[1];
    assert_int_equal(funk_accel_image_classify(s, NULL, "x", 1, l, 1), -ENOTSUP);
    assert_int_equal(funk_accel_session_delete(s), 0);
}

/* ---- Bad input ------------------------------------------------------------------------------ */

static void test_bad_sgemm_args(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    float a[16] = {0}, b[16] = {0}, c[16] = {0};
    assert_int_equal(funk_accel_sgemm(s, 0, 2, 2, 1, a, 2, b, 2, 0, c, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, -1, 2, 1, a, 2, b, 2, 0, c, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 0, 1, a, 2, b, 2, 0, c, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, a, 2, NULL, 2, 0, c, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, a, 2, b, 2, 0, NULL, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2), -EINVAL); /* lda<k */
    assert_int_equal(funk_accel_sgemm(s, 2, 3, 2, 1, a, 2, b, 2, 0, c, 3), -EINVAL); /* ldb<n */
    assert_int_equal(funk_accel_sgemm(s, 2, 3, 2, 1, a, 2, b, 3, 0, c, 2), -EINVAL); /* ldc<n */
    assert_int_equal(funk_accel_sgemm(NULL, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2), 0);
    assert_int_equal(funk_accel_session_delete(s), 0);
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2), -EBADF);
}

static void test_bad_image_args(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    funk_accel_label l[2];
    funk_accel_detection d[2];
    assert_int_equal(funk_accel_image_classify(s, NULL, NULL, 3, l, 2), -EINVAL);
    assert_int_equal(funk_accel_image_classify(s, NULL, "img", 0, l, 2), -EINVAL);
    assert_int_equal(funk_accel_image_classify(s, NULL, "img", 3, NULL, 2), -EINVAL);
    assert_int_equal(funk_accel_image_classify(s, NULL, "img", 3, l, 0), -EINVAL);
    assert_int_equal(funk_accel_image_classify(NULL, NULL, "img", 3, l, 2), -EINVAL);
    assert_int_equal(funk_accel_image_detect(s, NULL, NULL, 3, 0, d, 2), -EINVAL);
    assert_int_equal(funk_accel_image_detect(s, NULL, "img", 0, 0, d, 2), -EINVAL);
    assert_int_equal(funk_accel_image_detect(s, NULL, "img", 3, 101, d, 2), -EINVAL);
    assert_int_equal(funk_accel_image_detect(s, NULL, "img", 3, 0, NULL, 2), -EINVAL);
    assert_int_equal(funk_accel_image_detect(s, NULL, "img", 3, 0, d, 0), -EINVAL);
    /* A DATA resource where a MODEL is expected, and a dead model handle. */
    funk_accel_resource *data;
    assert_int_equal(funk_accel_resource_new_buffer(&data, FUNK_ACCEL_RES_DATA, "d", 1), 0);
    assert_int_equal(funk_accel_session_register(s, data), 0);
    assert_int_equal(funk_accel_image_classify(s, data, "img", 3, l, 2), -EINVAL);
    assert_int_equal(funk_accel_resource_release(data), 0);
    assert_int_equal(funk_accel_session_unregister(s, data), 0);
    assert_int_equal(funk_accel_image_detect(s, data, "img", 3, 0, d, 2), -EBADF);
    assert_int_equal(funk_accel_session_delete(s), 0);
}

static void test_bad_op_args(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    char buf[8] = "abc";
    int32_t v = 1;
    int64_t w = 2;
    funk_accel_arg ok = FUNK_ACCEL_ARG_BYTES_OF(buf, 3);
    assert_int_equal(funk_accel_op(s, NULL, NULL, 0, NULL, 0), -EINVAL);
    assert_int_equal(funk_accel_op(s, "", NULL, 0, NULL, 0), -EINVAL);
    assert_int_equal(funk_accel_op(s, "noop.echo", NULL, 1, NULL, 0), -EINVAL);
    assert_int_equal(funk_accel_op(s, "noop.echo", &ok, 1, NULL, 1), -EINVAL);
    funk_accel_arg bad[] = {
        FUNK_ACCEL_ARG_BYTES_OF(NULL, 3),                  /* NULL data */
        FUNK_ACCEL_ARG_BYTES_OF(buf, 0),                   /* zero size */
        FUNK_ACCEL_ARG(99, buf, 3),                        /* unknown type */
        FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_STRING, buf, 2),     /* no NUL inside */
        FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_I32, &w, sizeof(w)), /* wrong size */
        FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_F32_ARRAY, buf, 3),  /* not whole floats */
        {FUNK_ACCEL_ARG_I32, 1, &v, sizeof(v), 0},         /* reserved flags */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(funk_accel_op(s, "noop.echo", &bad[i], 1, NULL, 0), -EINVAL);
        /* Outputs are capacities: a string needs no NUL yet, an I32 may get 8 bytes. */
        if (i != 3 && i != 4)
            assert_int_equal(funk_accel_op(s, "noop.echo", &ok, 1, &bad[i], 1), -EINVAL);
    }
    funk_accel_arg tiny = FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_I32, &v, 2); /* output below 4 bytes */
    assert_int_equal(funk_accel_op(s, "noop.echo", &ok, 1, &tiny, 1), -EINVAL);
    funk_accel_arg good[] = {FUNK_ACCEL_ARG_I32_OF(&v), FUNK_ACCEL_ARG_I64_OF(&w),
                             FUNK_ACCEL_ARG_STRING_OF(buf)};
    assert_int_equal(funk_accel_op(s, "noop.noop", good, 3, NULL, 0), 0);
    assert_int_equal(funk_accel_op(s, "no.such.op", good, 3, NULL, 0), -ENOENT);
    assert_int_equal(funk_accel_session_delete(s), 0);
    assert_int_equal(funk_accel_op(s, "noop.noop", NULL, 0, NULL, 0), -EBADF);
}

/* ---- exec ------------------------------------------------------------------------------------ */

static void test_exec(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("exec"), 0);
    funk_accel_session *s, *other;
    funk_accel_resource *lib, *libbuf, *junk, *data;
    assert_int_equal(funk_accel_session_new(&s), 0);
    assert_int_equal(funk_accel_session_new(&other), 0);
    assert_int_equal(funk_accel_resource_new_file(&lib, FUNK_ACCEL_RES_LIBRARY, testlib()), 0);
    assert_int_equal(funk_accel_session_register(s, lib), 0);
    int32_t x = 40, y = 2, r = 0;
    funk_accel_arg in[2] = {FUNK_ACCEL_ARG_I32_OF(&x), FUNK_ACCEL_ARG_I32_OF(&y)};
    funk_accel_arg out[1] = {FUNK_ACCEL_ARG_I32_OF(&r)};
    for (int i = 0; i < 3; i++) { /* the library stays loaded in the resource's slot */
        r = 0;
        assert_int_equal(funk_accel_exec(s, lib, "add_i32", in, 2, out, 1), 0);
        assert_int_equal(r, 42);
        assert_int_equal(out[0].used, sizeof(r));
    }
    assert_int_equal(funk_accel_exec(s, lib, "fail_42", in, 2, out, 1), -42);
    assert_int_equal(funk_accel_exec(s, lib, "no_such_symbol", in, 2, out, 1), -ENOENT);
    /* dlsym on the library also finds its dependencies' symbols: libc's system must not be
     * callable through exec (were it called, system(NULL) would only ask whether a shell exists
     * and return nonzero, not -ENOENT). */
    assert_int_equal(funk_accel_exec(s, lib, "system", NULL, 0, NULL, 0), -ENOENT);
    assert_int_equal(funk_accel_exec(other, lib, "add_i32", in, 2, out, 1), -EPERM);
    assert_int_equal(funk_accel_exec(s, NULL, "add_i32", in, 2, out, 1), -EINVAL);
    assert_int_equal(funk_accel_exec(s, lib, NULL, in, 2, out, 1), -EINVAL);
    assert_int_equal(funk_accel_exec(s, lib, "", in, 2, out, 1), -EINVAL);
    assert_int_equal(funk_accel_exec(s, lib, "add_i32", NULL, 2, out, 1), -EINVAL);

    /* The same bytes shipped as a buffer: they are the installed library's, which is loaded. */
    static char bytes[1 << 20];
    size_t n = slurp(testlib(), bytes, sizeof(bytes));
    assert_true(n > 0);
    assert_int_equal(funk_accel_resource_new_buffer(&libbuf, FUNK_ACCEL_RES_LIBRARY, bytes, n), 0);
    assert_int_equal(funk_accel_session_register(s, libbuf), 0);
    r = 0;
    assert_int_equal(funk_accel_exec(s, libbuf, "add_i32", in, 2, out, 1), 0);
    assert_int_equal(r, 42);

    /* An installed file that is not a shared object, and a resource of the wrong type. */
    assert_int_equal(funk_accel_resource_new_buffer(&junk, FUNK_ACCEL_RES_LIBRARY, "junk", 4), 0);
    assert_int_equal(funk_accel_session_register(s, junk), 0);
    assert_int_equal(funk_accel_exec(s, junk, "add_i32", in, 2, out, 1), -EBADMSG);
    assert_int_equal(funk_accel_resource_new_buffer(&data, FUNK_ACCEL_RES_DATA, "d", 1), 0);
    assert_int_equal(funk_accel_session_register(s, data), 0);
    assert_int_equal(funk_accel_exec(s, data, "add_i32", in, 2, out, 1), -EINVAL);

    assert_int_equal(funk_accel_resource_release(lib), 0);
    assert_int_equal(funk_accel_resource_release(libbuf), 0);
    assert_int_equal(funk_accel_resource_release(junk), 0);
    assert_int_equal(funk_accel_resource_release(data), 0);
    /* Session delete drops the registrations; the libraries are unloaded with them. */
    assert_int_equal(funk_accel_session_delete(s), 0);
    assert_int_equal(funk_accel_exec(other, lib, "add_i32", in, 2, out, 1), -EBADF);
    assert_int_equal(funk_accel_session_delete(other), 0);
}

/* Code the operator did not install is never loaded: not from a buffer, not from a file
 * outside the exec directory, not from a file others may write in it, not without a directory. */
static void test_exec_allowlist(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("exec"), 0);
    unlink(marker);
    funk_accel_session *s;
    funk_accel_resource *file, *buf, *ok;
    assert_int_equal(funk_accel_session_new(&s), 0);
    int32_t x = 1, y = 2, r = 0;
    funk_accel_arg in[2] = {FUNK_ACCEL_ARG_I32_OF(&x), FUNK_ACCEL_ARG_I32_OF(&y)};
    funk_accel_arg out[1] = {FUNK_ACCEL_ARG_I32_OF(&r)};

    /* A file outside the allowlist. */
    assert_int_equal(funk_accel_resource_new_file(&file, FUNK_ACCEL_RES_LIBRARY, evillib()), 0);
    assert_int_equal(funk_accel_session_register(s, file), 0);
    assert_int_equal(funk_accel_exec(s, file, "add_i32", in, 2, out, 1), -EPERM);
    assert_null(funk_accel_resource_path(file)); /* no plugin gets a loadable path either */
    const char *p = "unset";
    assert_int_equal(funk_accel_resource_library_path(file, &p), -EPERM);

    /* The same bytes as a buffer (what a guest or an rpc client ships). */
    static char bytes[1 << 20];
    size_t n = slurp(evillib(), bytes, sizeof(bytes));
    assert_true(n > 0);
    assert_int_equal(funk_accel_resource_new_buffer(&buf, FUNK_ACCEL_RES_LIBRARY, bytes, n), 0);
    assert_int_equal(funk_accel_session_register(s, buf), 0);
    assert_int_equal(funk_accel_exec(s, buf, "add_i32", in, 2, out, 1), -EPERM);
    assert_int_equal(access(marker, F_OK), -1); /* its constructor never ran */

    /* Installed, but writable by others: not the operator's word, ignored. */
    assert_int_equal(put_file(exec_dir, "shared.so", bytes, n, 0666), 0);
    assert_int_equal(funk_accel_exec(s, buf, "add_i32", in, 2, out, 1), -EPERM);
    assert_int_equal(access(marker, F_OK), -1);

    /* No exec directory at all: nothing runs, the allowlisted library neither. */
    assert_int_equal(funk_accel_resource_new_file(&ok, FUNK_ACCEL_RES_LIBRARY, testlib()), 0);
    assert_int_equal(funk_accel_session_register(s, ok), 0);
    setenv("FUNK_ACCEL_EXEC_DIR", "/nonexistent/funk-exec", 1);
    assert_int_equal(funk_accel_exec(s, ok, "add_i32", in, 2, out, 1), -EPERM);
    setenv("FUNK_ACCEL_EXEC_DIR", exec_dir, 1);
    assert_int_equal(funk_accel_exec(s, ok, "add_i32", in, 2, out, 1), 0);
    assert_int_equal(r, 3);
    /* What is loaded is the installed copy, not the caller's path. */
    assert_int_equal(funk_accel_resource_library_path(ok, &p), 0);
    assert_true(strncmp(p, "/proc/self/fd/", 14) == 0);
    assert_int_equal(funk_accel_resource_library_path(buf, NULL), -EINVAL);

    assert_int_equal(funk_accel_resource_release(file), 0);
    assert_int_equal(funk_accel_resource_release(buf), 0);
    assert_int_equal(funk_accel_resource_release(ok), 0);
    assert_int_equal(funk_accel_session_delete(s), 0);
    assert_int_equal(access(marker, F_OK), -1);
}

/* What an exec library that calls another installed library by hash (the vAccel adapter) uses:
 * the same allowlist, and only the library's own symbols. */
static void test_library_open(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_init("noop"), 0);
    funk_accel_resource *ok, *evil, *junk;
    uint8_t h[FUNK_ACCEL_HASH_SIZE];
    void *dl = NULL;
    assert_int_equal(funk_accel_resource_new_file(&ok, FUNK_ACCEL_RES_LIBRARY, testlib()), 0);
    assert_int_equal(funk_accel_resource_hash(ok, h), 0);
    assert_int_equal(funk_accel_library_open(h, &dl), 0);
    assert_non_null(funk_accel_library_lookup(dl, "add_i32"));
    assert_null(funk_accel_library_lookup(dl, "system")); /* libc's, not the library's */
    assert_null(funk_accel_library_lookup(dl, "no_such_symbol"));
    assert_null(funk_accel_library_lookup(dl, NULL));

    /* A second library opened while the first is held is itself, not the first again: glibc
     * takes a /proc/self/fd/N name it has loaded to be that object, so N must stay taken. */
    funk_accel_resource *other;
    void *dl2 = NULL;
    assert_int_equal(funk_accel_resource_new_file(&other, FUNK_ACCEL_RES_LIBRARY, tp("tphi")), 0);
    assert_int_equal(funk_accel_resource_hash(other, h), 0);
    assert_int_equal(funk_accel_library_open(h, &dl2), 0);
    assert_ptr_not_equal(dl2, dl);
    assert_non_null(funk_accel_library_lookup(dl2, "funk_accel_plugin_descriptor"));
    assert_null(funk_accel_library_lookup(dl2, "add_i32"));
    funk_accel_library_close(dl2);
    assert_int_equal(funk_accel_resource_release(other), 0);
    funk_accel_library_close(dl);

    assert_int_equal(funk_accel_resource_new_file(&evil, FUNK_ACCEL_RES_LIBRARY, evillib()), 0);
    assert_int_equal(funk_accel_resource_hash(evil, h), 0);
    assert_int_equal(funk_accel_library_open(h, &dl), -EPERM); /* not installed: never loaded */
    assert_int_equal(access(marker, F_OK), -1);
    assert_int_equal(funk_accel_resource_new_buffer(&junk, FUNK_ACCEL_RES_LIBRARY, "junk", 4), 0);
    assert_int_equal(funk_accel_resource_hash(junk, h), 0);
    assert_int_equal(funk_accel_library_open(h, &dl), -EBADMSG); /* installed, not a library */
    assert_int_equal(funk_accel_library_open(NULL, &dl), -EINVAL);

    assert_int_equal(funk_accel_resource_release(ok), 0);
    assert_int_equal(funk_accel_resource_release(evil), 0);
    assert_int_equal(funk_accel_resource_release(junk), 0);
}

/* ---- Concurrency ----------------------------------------------------------------------------- */

#include <pthread.h>
#include <stdatomic.h>

enum { THREADS = 4, ITERS = 3000 };
static funk_accel_session *shared_session;
static funk_accel_resource *shared_lib;

static void *worker(void *arg)
{
    long id = (long)arg;
    long failures = 0;
    funk_accel_session *own;
    if (funk_accel_session_new(&own) < 0)
        return (void *)1L;
    funk_accel_resource *mine;
    char name[16];
    snprintf(name, sizeof(name), "model-%ld", id);
    if (funk_accel_resource_new_buffer(&mine, FUNK_ACCEL_RES_MODEL, name, strlen(name)) < 0)
        return (void *)1L;
    failures += funk_accel_resource_set_attr(mine, "labels", name) != 0;
    failures += funk_accel_session_register(own, mine) != 0;
    failures += funk_accel_session_register(own, shared_lib) != 0;
    for (int i = 0; i < ITERS; i++) {
        failures += funk_accel_noop(shared_session) != 0;
        failures += funk_accel_noop(own) != 0;
        funk_accel_label l[1];
        failures += funk_accel_image_classify(own, mine, "x", 1, l, 1) != 1;
        failures += strcmp(l[0].label, name) != 0;
        int32_t a = (int32_t)i, b = (int32_t)id, r = -1;
        funk_accel_arg in[2] = {FUNK_ACCEL_ARG_I32_OF(&a), FUNK_ACCEL_ARG_I32_OF(&b)};
        funk_accel_arg out[1] = {FUNK_ACCEL_ARG_I32_OF(&r)};
        failures += funk_accel_exec(own, shared_lib, "add_i32", in, 2, out, 1) != 0;
        failures += r != i + id;
        /* Short-lived sessions and resources interleaved with the others' calls. */
        if (i % 100 == 0) {
            funk_accel_session *tmp;
            funk_accel_resource *res;
            failures += funk_accel_session_new(&tmp) != 0;
            failures += funk_accel_resource_new_buffer(&res, FUNK_ACCEL_RES_DATA, "t", 1) != 0;
            failures += funk_accel_session_register(tmp, res) != 0;
            failures += funk_accel_resource_release(res) != 0;
            failures += funk_accel_noop(tmp) != 0;
            failures += funk_accel_session_delete(tmp) != 0;
        }
    }
    failures += funk_accel_resource_release(mine) != 0;
    failures += funk_accel_session_delete(own) != 0;
    return (void *)failures;
}

static void test_concurrency(void **state)
{
    (void)state;
    char list[4 * PATH_MAX];
    snprintf(list, sizeof(list), "noop:exec:%s", tp("tphi"));
    assert_int_equal(funk_accel_init(list), 0);
    assert_int_equal(funk_accel_session_new(&shared_session), 0);
    assert_int_equal(funk_accel_resource_new_file(&shared_lib, FUNK_ACCEL_RES_LIBRARY, testlib()),
                     0);
    int before = op_int(shared_session, "tphi.noops");
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_int_equal((long)ret, 0);
    }
    /* Every noop reached tphi exactly once; per-thread ones + shared + temporaries. */
    assert_int_equal(op_int(shared_session, "tphi.noops"),
                     before + THREADS * (2 * ITERS + ITERS / 100));
    assert_int_equal(funk_accel_resource_release(shared_lib), 0);
    assert_int_equal(funk_accel_session_delete(shared_session), 0);
}

/* One thread deletes sessions that others are calling: every call either works or says
 * -EBADF, and the plugin's per-session state is closed exactly once, after the last call. */
static _Atomic(funk_accel_session *) victim;
static atomic_int stop_users;

static void *victim_user(void *arg)
{
    (void)arg;
    long bad = 0;
    while (!atomic_load(&stop_users)) {
        int rc = funk_accel_noop(atomic_load(&victim));
        bad += rc != 0 && rc != -EBADF;
    }
    return (void *)bad;
}

static void test_delete_while_in_use(void **state)
{
    (void)state;
    char list[2 * PATH_MAX];
    snprintf(list, sizeof(list), "%s", tp("tphi"));
    assert_int_equal(funk_accel_init(list), 0);
    funk_accel_session *probe;
    assert_int_equal(funk_accel_session_new(&probe), 0);
    int open0 = op_int(probe, "tphi.sessions");
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    atomic_store(&victim, s);
    atomic_store(&stop_users, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, victim_user, NULL), 0);
    for (int round = 0; round < 200; round++) {
        funk_accel_session *next;
        assert_int_equal(funk_accel_session_new(&next), 0);
        assert_int_equal(funk_accel_noop(next), 0);
        funk_accel_session *old = atomic_exchange(&victim, next);
        assert_int_equal(funk_accel_session_delete(old), 0);
        assert_int_equal(funk_accel_session_delete(old), -EBADF);
    }
    atomic_store(&stop_users, 1);
    for (int i = 0; i < 2; i++) {
        void *ret;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_int_equal((long)ret, 0);
    }
    assert_int_equal(funk_accel_session_delete(atomic_load(&victim)), 0);
    assert_int_equal(op_int(probe, "tphi.sessions"), open0);
    assert_int_equal(funk_accel_session_delete(probe), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s TEST_PLUGIN_DIR\n", argv[0]);
        return 2;
    }
    test_dir = argv[1];
    /* Tests choose their plugins explicitly; the environment must not add any. */
    unsetenv("FUNK_ACCEL_PLUGINS");
    if (make_exec_dir() < 0) {
        fprintf(stderr, "cannot set up the exec directory in /tmp\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_version_and_names, teardown),
        cmocka_unit_test_teardown(test_log_long_line, teardown),
        cmocka_unit_test_teardown(test_session_lifecycle, teardown),
        cmocka_unit_test_teardown(test_many_sessions_no_cap, teardown),
        cmocka_unit_test_teardown(test_fini_deletes_sessions, teardown),
        cmocka_unit_test_teardown(test_resource_refcount, teardown),
        cmocka_unit_test_teardown(test_resource_bad_input, teardown),
        cmocka_unit_test_teardown(test_resource_file_and_attrs, teardown),
        cmocka_unit_test_teardown(test_registration, teardown),
        cmocka_unit_test_teardown(test_unregister_not_registered, teardown),
        cmocka_unit_test_teardown(test_session_deleted_with_resources, teardown),
        cmocka_unit_test_teardown(test_resource_slots, teardown),
        cmocka_unit_test_teardown(test_resource_path, teardown),
        cmocka_unit_test_teardown(test_plugin_unknown_name, teardown),
        cmocka_unit_test_teardown(test_plugin_wrong_abi, teardown),
        cmocka_unit_test_teardown(test_plugin_not_a_plugin, teardown),
        cmocka_unit_test_teardown(test_plugin_duplicate_and_load, teardown),
        cmocka_unit_test_teardown(test_plugin_search_path, teardown),
        cmocka_unit_test_teardown(test_plugin_nodev, teardown),
        cmocka_unit_test_teardown(test_dispatch_order_and_fallback, teardown),
        cmocka_unit_test_teardown(test_dispatch_not_supported, teardown),
        cmocka_unit_test_teardown(test_bad_sgemm_args, teardown),
        cmocka_unit_test_teardown(test_bad_image_args, teardown),
        cmocka_unit_test_teardown(test_bad_op_args, teardown),
        cmocka_unit_test_teardown(test_exec, teardown),
        cmocka_unit_test_teardown(test_exec_allowlist, teardown),
        cmocka_unit_test_teardown(test_library_open, teardown),
        cmocka_unit_test_teardown(test_concurrency, teardown),
        cmocka_unit_test_teardown(test_delete_while_in_use, teardown),
    };
    int rc = cmocka_run_group_tests_name("accel", tests, NULL, NULL);
    remove_exec_dir();
    return rc;
}
