/* SPDX-License-Identifier: Apache-2.0 */
/* funkd metrics in Prometheus text: OpenFaaS gateway names plus funk's boot and instance figures.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NB (sizeof buckets / sizeof *buckets)

struct series {
    char fn[2 * GW_NAME_MAX + 2];
    unsigned code; /* 0: the "started" counter of fn */
    uint64_t count;
    double sum;
    uint64_t b[NB];
    struct series *next;
};
static struct series *all;
static uint64_t boot_b[NB], boot_n;
static double boot_sum;
static pthread_mutex_t m_mu = PTHREAD_MUTEX_INITIALIZER;

static struct series *get(const char *fn, unsigned code)
{
    for (struct series *s = all; s; s = s->next)
        if (s->code == code && strcmp(s->fn, fn) == 0)
            return s;
    struct series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->fn, sizeof s->fn, "%s", fn);
    s->code = code;
    s->next = all;
    all = s;
    return s;
}

void gw_metrics_started(const char *fn)
{
    pthread_mutex_lock(&m_mu);
    struct series *s = get(fn, 0);
    if (s)
        s->count++;
    pthread_mutex_unlock(&m_mu);
}

void gw_metrics_done(const char *fn, unsigned code, double seconds)
{
    pthread_mutex_lock(&m_mu);
    struct series *s = get(fn, code);
    if (s) {
        s->count++;
        s->sum += seconds;
        for (size_t i = 0; i < NB; i++)
            if (seconds <= buckets[i])
                s->b[i]++;
    }
    pthread_mutex_unlock(&m_mu);
}

void gw_metrics_boot(double seconds)
{
    pthread_mutex_lock(&m_mu);
    boot_n++;
    boot_sum += seconds;
    for (size_t i = 0; i < NB; i++)
        if (seconds <= buckets[i])
            boot_b[i]++;
    pthread_mutex_unlock(&m_mu);
}

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (o->p && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t nc = o->cap ? o->cap * 2 : 8192;
        while (nc < o->len + (size_t)n + 1)
            nc *= 2;
        char *np = realloc(o->p, nc);
        if (!np)
            return;
        o->p = np;
        o->cap = nc;
    }
}

char *gw_metrics_render(size_t *len)
{
    struct out o = {0};
    put(&o, "# HELP gateway_function_invocation_total Function metrics\n"
            "# TYPE gateway_function_invocation_total counter\n");
    pthread_mutex_lock(&m_mu);
    for (struct series *s = all; s; s = s->next)
        if (s->code)
            put(&o, "gateway_function_invocation_total{code=\"%u\",function_name=\"%s\"} %llu\n",
                s->code, s->fn, (unsigned long long)s->count);
    put(&o, "# HELP gateway_function_invocation_started The total number of function HTTP requests "
            "started.\n"
            "# TYPE gateway_function_invocation_started counter\n");
    for (struct series *s = all; s; s = s->next)
        if (!s->code)
            put(&o, "gateway_function_invocation_started{function_name=\"%s\"} %llu\n", s->fn,
                (unsigned long long)s->count);
    put(&o, "# HELP gateway_functions_seconds Function time taken\n"
            "# TYPE gateway_functions_seconds histogram\n");
    for (struct series *s = all; s; s = s->next) {
        if (!s->code)
            continue;
        for (size_t i = 0; i < NB; i++)
            put(&o,
                "gateway_functions_seconds_bucket{code=\"%u\",function_name=\"%s\",le=\"%g\"} "
                "%llu\n",
                s->code, s->fn, buckets[i], (unsigned long long)s->b[i]);
        put(&o,
            "gateway_functions_seconds_bucket{code=\"%u\",function_name=\"%s\",le=\"+Inf\"} %llu\n",
            s->code, s->fn, (unsigned long long)s->count);
        put(&o, "gateway_functions_seconds_sum{code=\"%u\",function_name=\"%s\"} %.9f\n", s->code,
            s->fn, s->sum);
        put(&o, "gateway_functions_seconds_count{code=\"%u\",function_name=\"%s\"} %llu\n", s->code,
            s->fn, (unsigned long long)s->count);
    }
    put(&o, "# HELP funk_boot_seconds Time from loading a guest to its first FN_RECV\n"
            "# TYPE funk_boot_seconds histogram\n");
    for (size_t i = 0; i < NB; i++)
        put(&o, "funk_boot_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
            (unsigned long long)boot_b[i]);
    put(&o,
        "funk_boot_seconds_bucket{le=\"+Inf\"} %llu\nfunk_boot_seconds_sum "
        "%.9f\nfunk_boot_seconds_count %llu\n",
        (unsigned long long)boot_n, boot_sum, (unsigned long long)boot_n);
    pthread_mutex_unlock(&m_mu);

    json_t *list = gw_fn_list(NULL);
    put(&o, "# HELP gateway_service_count Current count of replicas for function\n"
            "# TYPE gateway_service_count gauge\n");
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
        put(&o, "gateway_service_count{function_name=\"%s.%s\"} %lld\n",
            json_string_value(json_object_get(f, "name")),
            json_string_value(json_object_get(f, "namespace")),
            (long long)json_integer_value(json_object_get(f, "replicas")));
    json_decref(list);
    int idle, busy;
    gw_instances_count(&idle, &busy);
    put(&o,
        "# HELP funk_instances Instances by state (pool: pre-created VM shells)\n"
        "# TYPE funk_instances gauge\n"
        "funk_instances{state=\"idle\"} %d\nfunk_instances{state=\"busy\"} %d\n"
        "funk_instances{state=\"pool\"} %d\n",
        idle, busy < 0 ? 0 : busy, gw_pool_ready());
    put(&o,
        "# HELP funk_async_jobs_pending Async jobs not yet delivered\n"
        "# TYPE funk_async_jobs_pending gauge\nfunk_async_jobs_pending %d\n",
        gw_queue_pending());
    *len = o.len;
    return o.p;
}
