/* SPDX-License-Identifier: Apache-2.0 */
/* funkd function logs: a ring of guest console lines, served as ndjson (tail, since, follow). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "gw.h"

#define RING 8192

struct entry {
    uint64_t seq;
    double ts;
    char *fn, *inst, *text;
};
static struct entry ring[RING];
static uint64_t next_seq = 1; /* seq of the next entry; entry s lives at ring[s % RING] */
static pthread_mutex_t l_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t l_cv = PTHREAD_COND_INITIALIZER;
static int l_stopping;

void gw_logs_add(const char *fn, const char *instance, const char *text, size_t len)
{
    /* guest bytes: stored escaped (one line, valid UTF-8, no terminal controls) so that neither
     * the API nor a terminal that prints the text can be fooled by it */
    if (len > GW_LOG_LINE_MAX)
        len = GW_LOG_LINE_MAX;
    char esc[4 * GW_LOG_LINE_MAX + 1];
    gw_escape(text, len, esc, sizeof esc);
    gw_log_output(fn, instance, esc);
    pthread_mutex_lock(&l_mu);
    struct entry *e = &ring[next_seq % RING];
    free(e->fn);
    free(e->inst);
    free(e->text);
    e->seq = next_seq++;
    e->ts = gw_wall();
    e->fn = strdup(fn);
    e->inst = strdup(instance);
    e->text = strdup(esc);
    pthread_cond_broadcast(&l_cv);
    pthread_mutex_unlock(&l_mu);
}

void gw_logs_shutdown(void)
{
    pthread_mutex_lock(&l_mu);
    l_stopping = 1;
    pthread_cond_broadcast(&l_cv);
    pthread_mutex_unlock(&l_mu);
}

struct reader {
    char fn[2 * GW_NAME_MAX + 2];
    char inst[GW_NAME_MAX + 24]; /* "" = every instance */
    uint64_t seq;
    int follow;
    double since;
    uint64_t end; /* without follow: the lines there were when the request came, no later ones */
};

static int matches(const struct entry *e, const struct reader *r)
{
    return e->fn && strcmp(e->fn, r->fn) == 0 && e->ts >= r->since &&
           (!r->inst[0] || (e->inst && strcmp(e->inst, r->inst) == 0));
}

static ssize_t read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct reader *r = cls;
    size_t n = 0;
    pthread_mutex_lock(&l_mu);
    for (int waited = 0;; waited = 1) {
        if (r->seq + RING < next_seq)
            r->seq = next_seq - RING + 1; /* fell behind: skip what the ring lost */
        uint64_t stop = !r->follow && r->end < next_seq ? r->end : next_seq;
        while (r->seq < stop) {
            struct entry *e = &ring[r->seq % RING];
            if (!matches(e, r)) {
                r->seq++;
                continue;
            }
            json_t *j =
                json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", "", "namespace", "", "instance",
                          e->inst ? e->inst : "", "timestamp", "", "text", e->text ? e->text : "");
            const char *dot = strrchr(e->fn, '.');
            json_object_set_new(j, "name",
                                json_stringn(e->fn, dot ? (size_t)(dot - e->fn) : strlen(e->fn)));
            json_object_set_new(j, "namespace", json_string(dot ? dot + 1 : GW_DEFAULT_NS));
            char ts[40];
            gw_rfc3339(e->ts, ts);
            json_object_set_new(j, "timestamp", json_string(ts));
            char *s = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            size_t l = s ? strlen(s) : 0;
            if (n + l + 1 > max) {
                free(s);
                break;
            }
            if (s) {
                memcpy(buf + n, s, l);
                buf[n + l] = '\n';
                n += l + 1;
                free(s);
            }
            r->seq++;
        }
        if (n > 0 || !r->follow || l_stopping || gw_stopping || waited)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&l_cv, &l_mu, &ts);
    }
    int end = n == 0 && (!r->follow || l_stopping || gw_stopping);
    pthread_mutex_unlock(&l_mu);
    if (end)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)n;
}

struct MHD_Response *gw_logs_response(const char *fn, const char *instance, long tail, int follow,
                                      double since)
{
    struct reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->fn, sizeof r->fn, "%s", fn);
    snprintf(r->inst, sizeof r->inst, "%s", instance ? instance : "");
    r->follow = follow;
    r->since = since;
    pthread_mutex_lock(&l_mu);
    uint64_t oldest = next_seq > RING ? next_seq - RING + 1 : 1;
    r->seq = oldest;
    r->end = next_seq;
    if (tail >= 0) {
        /* start at the tail-th matching line from the end */
        uint64_t s = next_seq;
        long found = 0;
        while (s > oldest && found < tail) {
            s--;
            if (matches(&ring[s % RING], r))
                found++;
        }
        r->seq = tail == 0 ? next_seq : s;
    }
    pthread_mutex_unlock(&l_mu);
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, read_cb, r, free);
}
