/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: funk_accel_noop through the runtime's dispatch (noop plugin) vs a direct call of a
 * function through a pointer, measured side by side in one run: min/median/p99 ns/op. */
#include <funk/accel.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The baseline: an out-of-line function of the same signature, called through a pointer the
 * compiler cannot see through. */
__attribute__((noinline)) static int direct_noop(funk_accel_session *s)
{
    __asm__ volatile("" : : "r"(s) : "memory");
    return 0;
}

typedef int (*noop_fn)(funk_accel_session *);

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct stats {
    double min, median, p99;
};

static struct stats summarize(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp);
    size_t p99 = (size_t)((double)(n - 1) * 0.99 + 0.5);
    return (struct stats){v[0], v[n / 2], v[p99]};
}

/* One batch: `calls` calls of fn, returns ns per call (or -1 on an error). */
static double batch(noop_fn volatile *fn, funk_accel_session *s, long calls)
{
    noop_fn f = *fn;
    double t0 = now_ns();
    for (long i = 0; i < calls; i++)
        if (f(s) != 0)
            return -1;
    return (now_ns() - t0) / (double)calls;
}

/* Threads calling noop at once, on their own sessions or on one shared session. */
struct thread_arg {
    funk_accel_session *s;
    long batches, calls;
    double *out;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    noop_fn volatile fa = funk_accel_noop;
    for (long b = 0; b < a->batches; b++)
        a->out[b] = batch(&fa, a->s, a->calls);
    return NULL;
}

enum { THREADS = 2 };

/* Fills out[THREADS * batches] with per-batch ns/op of every thread. */
static int run_threads(funk_accel_session *shared, long batches, long calls, double *out)
{
    pthread_t t[THREADS];
    struct thread_arg a[THREADS];
    funk_accel_session *own[THREADS] = {0};
    int rc = 0, started = 0;
    /* Threads already running use a[] on this stack: a failure still joins them. */
    for (; started < THREADS; started++) {
        int i = started;
        if (shared == NULL && (rc = funk_accel_session_new(&own[i])) < 0)
            break;
        a[i] = (struct thread_arg){shared ? shared : own[i], batches, calls, out + i * batches};
        if ((rc = -pthread_create(&t[i], NULL, thread_main, &a[i])) < 0)
            break;
    }
    for (int i = 0; i < THREADS; i++) {
        if (i < started)
            pthread_join(t[i], NULL);
        if (own[i])
            funk_accel_session_delete(own[i]);
    }
    if (rc < 0)
        return rc;
    for (long i = 0; i < THREADS * batches; i++)
        if (out[i] < 0)
            rc = -1;
    return rc;
}

int main(int argc, char **argv)
{
    long batches = argc > 1 ? atol(argv[1]) : 200;
    long calls = argc > 2 ? atol(argv[2]) : 50000;
    if (batches < 10 || calls < 1) {
        fprintf(stderr, "usage: funk-bench-accel [BATCHES>=10] [CALLS_PER_BATCH>=1]\n");
        return 2;
    }
    int rc = funk_accel_init("noop");
    if (rc < 0) {
        fprintf(stderr, "funk-bench-accel: loading the noop plugin: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    funk_accel_session *s;
    rc = funk_accel_session_new(&s);
    if (rc < 0) {
        fprintf(stderr, "funk-bench-accel: session: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    double *via = calloc((size_t)batches, sizeof(double));
    double *direct = calloc((size_t)batches, sizeof(double));
    if (via == NULL || direct == NULL)
        return 1;
    noop_fn volatile fa = funk_accel_noop, fd = direct_noop;
    batch(&fa, s, calls); /* warm-up: first-use paths (per-session plugin state) */
    batch(&fd, s, calls);
    /* Interleaved batches so that both see the same machine state. */
    for (long b = 0; b < batches; b++) {
        via[b] = batch(&fa, s, calls);
        direct[b] = batch(&fd, s, calls);
        if (via[b] < 0 || direct[b] < 0) {
            fprintf(stderr, "funk-bench-accel: a noop call failed\n");
            return 1;
        }
    }
    struct stats v = summarize(via, (size_t)batches), d = summarize(direct, (size_t)batches);
    long long n = (long long)batches * calls;
    double *mt = calloc((size_t)(THREADS * batches), sizeof(double));
    double *ms = calloc((size_t)(THREADS * batches), sizeof(double));
    if (mt == NULL || ms == NULL || run_threads(NULL, batches / 2, calls, mt) < 0 ||
        run_threads(s, batches / 2, calls, ms) < 0) {
        fprintf(stderr, "funk-bench-accel: threaded noop failed\n");
        return 1;
    }
    struct stats t_own = summarize(mt, (size_t)(THREADS * (batches / 2)));
    struct stats t_shared = summarize(ms, (size_t)(THREADS * (batches / 2)));
    long long nt = (long long)THREADS * (batches / 2) * calls;
    printf("%-34s %12s %10s %10s %10s\n", "accel noop (ns/op)", "N", "min", "median", "p99");
    printf("%-34s %12lld %10.1f %10.1f %10.1f\n", "funk_accel_noop via noop plugin", n, v.min,
           v.median, v.p99);
    printf("%-34s %12lld %10.1f %10.1f %10.1f\n", "direct call through a pointer", n, d.min,
           d.median, d.p99);
    printf("%-34s %12lld %10.1f %10.1f %10.1f\n", "2 threads, a session each", nt, t_own.min,
           t_own.median, t_own.p99);
    printf("%-34s %12lld %10.1f %10.1f %10.1f\n", "2 threads, one shared session", nt, t_shared.min,
           t_shared.median, t_shared.p99);
    printf("ratio (median, dispatch / direct): %.1fx; dispatch overhead %.1f ns/op; "
           "target <= 100 ns/op: %s\n",
           v.median / d.median, v.median - d.median, v.median <= 100.0 ? "met" : "NOT met");
    funk_accel_session_delete(s);
    funk_accel_fini();
    free(via);
    free(direct);
    free(mt);
    free(ms);
    return 0;
}
