/* SPDX-License-Identifier: Apache-2.0 */
/* classify: a JPEG or PNG request body in, the top labels and scores out as JSON
 *   {"labels":[{"label":"car","class_id":2,"score":0.550030},...]}
 * One source: built natively (libfunk-accel + libfunk-fn-native) and as a unikernel whose
 * funk_accel_* calls become ACCEL hypercalls. Errors: 400 for an empty or undecodable image,
 * 502 when the accelerator fails, with {"error":"..."}. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <funk/accel.h>
#include <funk/fn.h>

#ifndef EBADMSG
#define EBADMSG 74 /* the guest libc's errno.h lacks it */
#endif

#define TOP 5

static const char json_hdr[] = "Content-Type: application/json\n";

static void send_error(unsigned status, const char *what, int rc)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s: %s\",\"code\":%d}\n", what,
                     funk_accel_strerror(rc), rc);
    funk_fn_send(status, json_hdr, body, (size_t)n);
}

/* Labels come from the model's label file: plain names, escaped anyway. */
static size_t json_label(char *o, size_t room, const char *s)
{
    size_t n = 0;
    for (; *s && n + 2 < room; s++) {
        if (*s == '"' || *s == '\\')
            o[n++] = '\\';
        o[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    }
    return n;
}

static void answer(funk_accel_session *s, const struct funk_fn_req *req)
{
    if (req->body_len == 0) {
        send_error(400, "empty body (send a JPEG or PNG image)", -EINVAL);
        return;
    }
    funk_accel_label l[TOP];
    int n = funk_accel_image_classify(s, NULL, req->body, req->body_len, l, TOP);
    if (n < 0) {
        send_error(n == -EBADMSG || n == -EINVAL ? 400 : 502, "classify", n);
        return;
    }
    char body[TOP * 160 + 32];
    size_t at = (size_t)snprintf(body, sizeof(body), "{\"labels\":[");
    for (int i = 0; i < n; i++) {
        at += (size_t)snprintf(body + at, sizeof(body) - at, "%s{\"label\":\"", i ? "," : "");
        at += json_label(body + at, 130, l[i].label);
        at += (size_t)snprintf(body + at, sizeof(body) - at, "\",\"class_id\":%d,\"score\":%.6f}",
                               (int)l[i].class_id, FUNK_FARG(l[i].score));
    }
    at += (size_t)snprintf(body + at, sizeof(body) - at, "]}\n");
    funk_fn_send(200, json_hdr, body, at);
}

int main(void)
{
    funk_accel_session *s = NULL;
    int arc = funk_accel_session_new(&s), rc;
    struct funk_fn_req req;
    /* Without a session every request gets the reason (the response is the only channel). */
    while ((rc = funk_fn_recv(&req)) == 0) {
        if (arc < 0)
            send_error(502, "no accelerator session", arc);
        else
            answer(s, &req);
    }
    if (arc == 0)
        funk_accel_session_delete(s);
    return rc < 0 || arc < 0 ? 1 : 0;
}
