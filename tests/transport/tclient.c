/* SPDX-License-Identifier: Apache-2.0 */
/* Test client for the transport tests: the same <funk/accel.h> calls, printed in full precision,
 * run against whatever FUNK_ACCEL_PLUGINS names (cpu natively, or rpc through the agent). */
#include <funk/accel.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "tclient: %s: %s (%d)\n", what, funk_accel_strerror(rc), rc);
    return 1;
}

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = n > 0 ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static int classify(const char *img, char *out, size_t outlen)
{
    size_t len;
    void *data = read_file(img, &len);
    if (data == NULL) {
        fprintf(stderr, "tclient: cannot read %s\n", img);
        return -ENOENT;
    }
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc == 0) {
        funk_accel_label l[5];
        rc = funk_accel_image_classify(s, NULL, data, len, l, 5);
        size_t at = 0;
        for (int i = 0; i < rc && at < outlen; i++)
            at += (size_t)snprintf(out + at, outlen - at, "%s %d %.9g\n", l[i].label, l[i].class_id,
                                   (double)l[i].score);
        funk_accel_session_delete(s);
    }
    free(data);
    return rc;
}

/* A fixed product with strided A and beta != 0, so packing and C shipping are exercised.
 * tests/transport/sgemm_ref.py builds the same inputs for its naive reference: keep in step.
 * dump: every element of C, one per line, instead of a digest. */
static int sgemm_fixed(bool dump)
{
    enum { M = 67, N = 45, K = 33, LDA = 40 };
    static float a[M * LDA], b[K * N], c[M * N];
    for (int i = 0; i < M; i++)
        for (int p = 0; p < LDA; p++)
            a[i * LDA + p] = p < K ? (float)((i * 7 + p * 3) % 19 - 9) / 8.0f : 1e30f;
    for (int i = 0; i < K * N; i++)
        b[i] = (float)((i * 5) % 23 - 11) / 16.0f;
    for (int i = 0; i < M * N; i++)
        c[i] = (float)(i % 13) / 4.0f;
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc < 0)
        return fail("session", rc);
    rc = funk_accel_sgemm(s, M, N, K, 1.25f, a, LDA, b, N, 0.5f, c, N);
    funk_accel_session_delete(s);
    if (rc < 0)
        return fail("sgemm", rc);
    if (dump) {
        printf("sgemm %d %d %d\n", M, N, K);
        for (int i = 0; i < M * N; i++)
            printf("%.9g\n", (double)c[i]);
        return 0;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *p = (const unsigned char *)c;
    for (size_t i = 0; i < sizeof(c); i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    printf("sgemm %dx%dx%d fnv1a=%016llx c[0]=%.9g c[last]=%.9g\n", M, N, K, (unsigned long long)h,
           (double)c[0], (double)c[M * N - 1]);
    return 0;
}

static int exec_lib(const char *lib, const char *symbol, int a, int b)
{
    funk_accel_session *s;
    funk_accel_resource *r;
    int rc = funk_accel_session_new(&s);
    if (rc < 0)
        return fail("session", rc);
    rc = funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_LIBRARY, lib);
    if (rc < 0)
        return fail("library", rc);
    funk_accel_session_register(s, r);
    int32_t x = a, y = b, z = 0;
    funk_accel_arg in[2] = {FUNK_ACCEL_ARG_I32_OF(&x), FUNK_ACCEL_ARG_I32_OF(&y)};
    funk_accel_arg out[1] = {FUNK_ACCEL_ARG_I32_OF(&z)};
    rc = funk_accel_exec(s, r, symbol, in, 2, out, 1);
    funk_accel_resource_release(r);
    funk_accel_session_delete(s);
    if (rc < 0)
        return fail("exec", rc);
    printf("%s(%d, %d) = %d (used %zu)\n", symbol, a, b, z, out[0].used);
    return 0;
}

/* Registers the library, says so, then calls sleep_ms(ms) until killed. */
static int hold(const char *lib, int ms)
{
    funk_accel_session *s;
    funk_accel_resource *r;
    int rc = funk_accel_session_new(&s);
    if (rc == 0)
        rc = funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_LIBRARY, lib);
    if (rc == 0)
        rc = funk_accel_session_register(s, r);
    if (rc < 0)
        return fail("hold set-up", rc);
    int32_t t = 1;
    funk_accel_arg in[1] = {FUNK_ACCEL_ARG_I32_OF(&t)};
    rc = funk_accel_exec(s, r, "sleep_ms", in, 1, NULL, 0); /* registers it remotely */
    if (rc < 0)
        return fail("exec", rc);
    printf("holding\n");
    fflush(stdout);
    t = ms;
    for (;;) {
        rc = funk_accel_exec(s, r, "sleep_ms", in, 1, NULL, 0);
        if (rc < 0)
            return fail("exec", rc);
    }
}

static int stats(void)
{
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc < 0)
        return fail("session", rc);
    uint64_t v[8];
    funk_accel_arg out[1] = {FUNK_ACCEL_ARG_BYTES_OF(v, sizeof(v))};
    rc = funk_accel_op(s, "rpc.stats", NULL, 0, out, 1);
    funk_accel_session_delete(s);
    if (rc < 0)
        return fail("rpc.stats", rc);
    /* This client's own connection counts as one connection and one session. */
    printf("connections=%llu sessions=%llu registrations=%llu cache_entries=%llu "
           "cache_bytes=%llu frames=%llu bad_frames=%llu connections_total=%llu\n",
           (unsigned long long)v[0] - 1, (unsigned long long)v[1] - 1, (unsigned long long)v[2],
           (unsigned long long)v[3], (unsigned long long)v[4], (unsigned long long)v[5],
           (unsigned long long)v[6], (unsigned long long)v[7]);
    return 0;
}

static int plugins(void)
{
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc < 0)
        return fail("session", rc);
    char text[4096];
    funk_accel_arg out[1] = {FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_STRING, text, sizeof(text))};
    rc = funk_accel_op(s, "rpc.plugins", NULL, 0, out, 1);
    funk_accel_session_delete(s);
    if (rc < 0)
        return fail("rpc.plugins", rc);
    fputs(text, stdout);
    return 0;
}

static int echo_op(const char *text)
{
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc < 0)
        return fail("session", rc);
    char got[256] = {0};
    funk_accel_arg in[1] = {FUNK_ACCEL_ARG_STRING_OF(text)};
    funk_accel_arg out[1] = {FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_STRING, got, sizeof(got))};
    rc = funk_accel_op(s, "echo", in, 1, out, 1);
    funk_accel_session_delete(s);
    if (rc < 0)
        return fail("op echo", rc);
    printf("echo: rc=%d used=%zu '%s'\n", rc, out[0].used, got);
    return 0;
}

static int op_named(const char *name)
{
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc < 0)
        return fail("session", rc);
    char got[16];
    funk_accel_arg out[1] = {FUNK_ACCEL_ARG_BYTES_OF(got, sizeof(got))};
    rc = funk_accel_op(s, name, NULL, 0, out, 1);
    funk_accel_session_delete(s);
    printf("op %s: %d\n", name, rc);
    return rc < 0 ? 1 : 0;
}

struct worker {
    pthread_t t;
    const char *img;
    char out[1024];
    int rc;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->rc = classify(w->img, w->out, sizeof(w->out));
    return NULL;
}

/* n clients at once, each with its own session (and so its own connection to the agent). */
static int concurrent(int n, const char *img, const char *expect_file)
{
    struct worker *w = calloc((size_t)n, sizeof(*w));
    size_t elen = 0;
    char *expect = read_file(expect_file, &elen);
    if (w == NULL || expect == NULL) {
        fprintf(stderr, "tclient: cannot read %s\n", expect_file);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        w[i].img = img;
        if (pthread_create(&w[i].t, NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, "tclient: thread %d: cannot create\n", i);
            return 1;
        }
    }
    int ok = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].t, NULL);
        if (w[i].rc < 0)
            fprintf(stderr, "tclient: client %d: %s (%d)\n", i, funk_accel_strerror(w[i].rc),
                    w[i].rc);
        else if (strlen(w[i].out) != elen || memcmp(w[i].out, expect, elen) != 0)
            fprintf(stderr, "tclient: client %d: different result:\n%s", i, w[i].out);
        else
            ok++;
    }
    printf("concurrent: %d/%d clients got the expected result\n", ok, n);
    free(w);
    free(expect);
    return ok == n ? 0 : 1;
}

/* noop, then wait for a line on stdin (the test restarts the agent), then two more noops: the
 * first reports the broken connection, the second reconnects. */
static int reconnect(void)
{
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc < 0)
        return fail("session", rc);
    printf("first %d\n", funk_accel_noop(s));
    fflush(stdout);
    char line[16];
    if (fgets(line, sizeof(line), stdin) == NULL)
        return 1;
    int a = funk_accel_noop(s);
    int b = funk_accel_noop(s);
    printf("after restart %d %d\n", a, b);
    funk_accel_session_delete(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(
            stderr,
            "usage: tclient classify IMG | sgemm | sgemm-dump | exec LIB SYM A B | hold LIB MS | "
            "stats | plugins | echo TEXT | op NAME | concurrent N IMG EXPECTED | "
            "reconnect | noop N\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "classify") && argc == 3) {
        char out[1024];
        int rc = classify(argv[2], out, sizeof(out));
        if (rc < 0)
            return fail("classify", rc);
        fputs(out, stdout);
        return 0;
    }
    if (!strcmp(cmd, "sgemm"))
        return sgemm_fixed(false);
    if (!strcmp(cmd, "sgemm-dump"))
        return sgemm_fixed(true);
    if (!strcmp(cmd, "exec") && argc == 6)
        return exec_lib(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
    if (!strcmp(cmd, "hold") && argc == 4)
        return hold(argv[2], atoi(argv[3]));
    if (!strcmp(cmd, "stats"))
        return stats();
    if (!strcmp(cmd, "plugins"))
        return plugins();
    if (!strcmp(cmd, "echo") && argc == 3)
        return echo_op(argv[2]);
    if (!strcmp(cmd, "op") && argc == 3)
        return op_named(argv[2]);
    if (!strcmp(cmd, "concurrent") && argc == 5)
        return concurrent(atoi(argv[2]), argv[3], argv[4]);
    if (!strcmp(cmd, "reconnect"))
        return reconnect();
    if (!strcmp(cmd, "noop") && argc == 3) {
        funk_accel_session *s;
        int rc = funk_accel_session_new(&s);
        long n = atol(argv[2]);
        for (long i = 0; rc >= 0 && i < n; i++)
            rc = funk_accel_noop(s);
        if (rc < 0)
            return fail("noop", rc);
        funk_accel_session_delete(s);
        printf("noop: %ld calls\n", n);
        return 0;
    }
    fprintf(stderr, "tclient: bad command\n");
    return 2;
}
