/* SPDX-License-Identifier: Apache-2.0 */
/* bench/transport guest sampler: times ACCEL calls from inside a unikernel with the guest's
 * monotonic clock. Request body: "noop BATCHES NAME\n" or "classify N NAME\n<image bytes>".
 * Response: "SAMPLE NAME ns" lines (noop: mean of a batch of 100 calls; classify: one call). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <funk/accel.h>
#include <funk/fn.h>
#include <funk/guest.h>

#define BATCH 100

static char out[1 << 16];

static const char *word(const char *p, const char *end, char *dst, size_t n)
{
    size_t i = 0;
    while (p < end && *p == ' ')
        p++;
    while (p < end && *p != ' ' && *p != '\n' && i + 1 < n)
        dst[i++] = *p++;
    dst[i] = '\0';
    return p;
}

static unsigned long num(const char *s)
{
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (unsigned long)(*s++ - '0');
    return v;
}

int main(void)
{
    funk_accel_session *s;
    if (funk_accel_session_new(&s) < 0)
        return 1;
    struct funk_fn_req req;
    while (funk_fn_recv(&req) == 0) {
        const char *p = req.body, *end = p + req.body_len;
        char mode[16], count[16], name[48];
        p = word(p, end, mode, sizeof mode);
        p = word(p, end, count, sizeof count);
        p = word(p, end, name, sizeof name);
        const char *img = memchr(p, '\n', (size_t)(end - p));
        unsigned long n = num(count);
        size_t at = 0;
        int rc = 0;
        for (int i = 0; i < 10 && rc >= 0; i++) /* warm-up */
            rc = funk_accel_noop(s);
        for (unsigned long i = 0; i < n && rc >= 0 && at + 80 < sizeof out; i++) {
            funk_time_t t0 = funk_clock_monotonic(), t1;
            if (!strcmp(mode, "noop")) {
                for (int j = 0; j < BATCH && rc >= 0; j++)
                    rc = funk_accel_noop(s);
                t1 = funk_clock_monotonic();
                at += (size_t)snprintf(out + at, sizeof out - at, "SAMPLE %s %llu.%02llu\n", name,
                                       (unsigned long long)(t1 - t0) / BATCH,
                                       (unsigned long long)(t1 - t0) % BATCH);
            } else {
                funk_accel_label l[5];
                rc =
                    img ? funk_accel_image_classify(s, NULL, img + 1, (size_t)(end - img - 1), l, 5)
                        : -22;
                t1 = funk_clock_monotonic();
                if (i > 0 || n == 1) /* the first call loads the model */
                    at += (size_t)snprintf(out + at, sizeof out - at, "SAMPLE %s %llu\n", name,
                                           (unsigned long long)(t1 - t0));
            }
        }
        if (rc < 0)
            at += (size_t)snprintf(out + at, sizeof out - at, "ERROR %s %d\n", name, rc);
        funk_fn_send(rc < 0 ? 502 : 200, "Content-Type: text/plain\n", out, at);
    }
    funk_accel_session_delete(s);
    return 0;
}
