/* SPDX-License-Identifier: Apache-2.0 */
/* funkd async queue: workers run stored jobs and POST results to X-Callback-Url, with retries. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "gw.h"

static pthread_t *workers;
static unsigned nworkers;
static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static int q_running;

void gw_job_free(struct gw_job *j)
{
    free(j->method);
    free(j->path);
    free(j->query);
    free(j->headers);
    free(j->callback);
    free(j->body);
    memset(j, 0, sizeof *j);
}

void gw_queue_kick(void)
{
    pthread_mutex_lock(&q_mu);
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_mu);
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

/* Adds "Name: value" lines of a header block to a curl list, skipping the ones curl sets. */
static struct curl_slist *add_headers(struct curl_slist *l, const char *block, size_t len)
{
    const char *p = block, *end = block + len;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);
        if (n && memchr(p, ':', n) && strncasecmp(p, "content-length:", 15) != 0 &&
            strncasecmp(p, "transfer-encoding:", 18) != 0 &&
            strncasecmp(p, "connection:", 11) != 0) {
            char *h = strndup(p, n);
            if (h)
                l = curl_slist_append(l, h);
            free(h);
        }
        p += n + 1;
    }
    return l;
}

/* POSTs the result; 0 when the receiver answered 2xx. */
static int deliver(const struct gw_job *j, const struct gw_call *c)
{
    CURL *h = curl_easy_init();
    if (!h)
        return -ENOMEM;
    char line[512];
    struct curl_slist *hl = NULL;
    hl = add_headers(hl, c->resp_headers, c->resp_headers_len);
    snprintf(line, sizeof line, "X-Call-Id: %s", j->call_id);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "X-Function-Status: %u", c->status);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "X-Function-Name: %s", j->fn);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "X-Duration-Seconds: %.6f", c->duration);
    hl = curl_slist_append(hl, line);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, j->callback);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->resp_body ? c->resp_body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->resp_body_len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        gw_warn("async %s: callback %s: %s", j->call_id, j->callback, curl_easy_strerror(rc));
        return -EIO;
    }
    if (code < 200 || code > 299) {
        gw_warn("async %s: callback %s answered %ld", j->call_id, j->callback, code);
        return -EIO;
    }
    return 0;
}

static void run_job(struct gw_job *j, int state, struct gw_call *c)
{
    if (state == 0) {
        char name[GW_NAME_MAX], ns[GW_NAME_MAX];
        struct gw_function *fn = gw_split_name(j->fn, name, ns) ? gw_fn_get(name, ns) : NULL;
        c->method = j->method;
        c->path = j->path;
        c->query = j->query;
        c->headers = j->headers;
        c->headers_len = j->headers ? strlen(j->headers) : 0;
        c->body = j->body;
        c->body_len = j->body_len;
        c->id = (uint64_t)j->id;
        snprintf(c->call_id, sizeof c->call_id, "%s", j->call_id);
        if (fn) {
            gw_invoke(fn, c);
            gw_fn_put(fn);
        } else {
            c->status = 404;
            snprintf(c->reason, sizeof c->reason, "function %s was deleted", j->fn);
        }
        if (c->status >= 400 && !c->resp_body) {
            c->resp_body = strdup(c->reason);
            c->resp_body_len = c->resp_body ? strlen(c->resp_body) : 0;
        }
        gw_store_job_result(j->id, c);
    }
    if (!j->callback || !*j->callback) {
        gw_store_job_finish(j->id, 1, 0);
        return;
    }
    if (deliver(j, c) == 0) {
        gw_store_job_finish(j->id, 1, 0);
        return;
    }
    /* attempts made so far, this one included: --callback-retries is the number of attempts
     * (was compared with '>', which made one attempt more than documented) */
    int attempts = gw_store_job_attempts(j->id) + 1;
    if ((unsigned)attempts >= gw_cfg.callback_retries) {
        gw_err("async %s: callback %s failed %d times: giving up", j->call_id, j->callback,
               attempts);
        gw_store_job_finish(j->id, 0, 0);
        return;
    }
    double delay = gw_cfg.callback_backoff;
    for (int i = 1; i < attempts && delay < 60; i++)
        delay *= 2;
    gw_store_job_finish(j->id, 0, gw_wall() + delay);
}

static void *worker_main(void *arg)
{
    (void)arg;
    while (!gw_stopping) {
        struct gw_job j;
        struct gw_call c;
        memset(&c, 0, sizeof c);
        int state = 0;
        int rc = gw_store_job_claim(gw_wall(), &j, &state, &c);
        if (rc == 1) {
            run_job(&j, state, &c);
            gw_job_free(&j);
            gw_call_free(&c);
            continue;
        }
        pthread_mutex_lock(&q_mu);
        if (q_running) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L; /* retries come due without a kick */
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&q_cv, &q_mu, &ts);
        }
        int run = q_running;
        pthread_mutex_unlock(&q_mu);
        if (!run)
            break;
    }
    return NULL;
}

int gw_queue_start(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    q_running = 1;
    nworkers = gw_cfg.async_workers;
    workers = calloc(nworkers, sizeof *workers);
    if (!workers)
        return -ENOMEM;
    for (unsigned i = 0; i < nworkers; i++)
        if (pthread_create(&workers[i], NULL, worker_main, NULL) != 0)
            return -EAGAIN;
    return 0;
}

void gw_queue_stop(void)
{
    pthread_mutex_lock(&q_mu);
    q_running = 0;
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_mu);
    for (unsigned i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    free(workers);
    curl_global_cleanup();
}
