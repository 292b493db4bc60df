/* SPDX-License-Identifier: Apache-2.0 */
/* vision: pose keypoints and a 64x48 person mask of a JPEG/PNG request body, as JSON
 *   {"keypoints":[{"name":"nose","x":0.372,"y":0.299,"score":0.352},...],
 *    "mask":{"w":64,"h":48,"on":N,"box":[x0,y0,x1,y1]}}   (box: mask pixels >= 50 % person)
 * Built as a unikernel: funk_accel_image_pose / _segment become generic-op ACCEL hypercalls.
 * The test runner (accel_case.py --function vision) checks the answer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <funk/accel.h>
#include <funk/fn.h>

#define MW 64
#define MH 48

static const char json_hdr[] = "Content-Type: application/json\n";

static void send_error(const char *what, int rc)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s: %s\",\"code\":%d}\n", what,
                     funk_accel_strerror(rc), rc);
    funk_fn_send(502, json_hdr, body, (size_t)n);
}

static void answer(funk_accel_session *s, const struct funk_fn_req *req)
{
    static funk_accel_keypoint k[FUNK_ACCEL_POSE_KEYPOINTS];
    static uint8_t mask[MW * MH];
    static char body[4096];
    int n = funk_accel_image_pose(s, req->body, req->body_len, k, FUNK_ACCEL_POSE_KEYPOINTS);
    if (n < 0) {
        send_error("pose", n);
        return;
    }
    uint32_t w = MW, h = MH;
    int rc = funk_accel_image_segment(s, req->body, req->body_len, mask, sizeof(mask), &w, &h);
    if (rc < 0) {
        send_error("segment", rc);
        return;
    }
    size_t at = (size_t)snprintf(body, sizeof(body), "{\"keypoints\":[");
    for (int i = 0; i < n && at < sizeof(body); i++) {
        k[i].name[sizeof(k[i].name) - 1] = '\0'; /* from the host: NUL-terminate anyway */
        at += (size_t)snprintf(body + at, sizeof(body) - at,
                               "%s{\"name\":\"%s\",\"x\":%.3f,\"y\":%.3f,\"score\":%.3f}",
                               i ? "," : "", k[i].name, FUNK_FARG(k[i].x), FUNK_FARG(k[i].y),
                               FUNK_FARG(k[i].score));
    }
    unsigned on = 0, x0 = w, y0 = h, x1 = 0, y1 = 0;
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++)
            if (mask[y * w + x] >= 128) {
                on++;
                x0 = x < x0 ? x : x0;
                y0 = y < y0 ? y : y0;
                x1 = x > x1 ? x : x1;
                y1 = y > y1 ? y : y1;
            }
    if (at < sizeof(body))
        at += (size_t)snprintf(body + at, sizeof(body) - at,
                               "],\"mask\":{\"w\":%u,\"h\":%u,\"on\":%u,\"box\":[%u,%u,%u,%u]}}\n",
                               (unsigned)w, (unsigned)h, on, x0, y0, x1, y1);
    if (at >= sizeof(body)) {
        send_error("answer", -ENOMEM);
        return;
    }
    funk_fn_send(200, json_hdr, body, at);
}

int main(void)
{
    funk_accel_session *s = NULL;
    int arc = funk_accel_session_new(&s), rc;
    struct funk_fn_req req;
    while ((rc = funk_fn_recv(&req)) == 0) {
        if (arc < 0)
            send_error("no accelerator session", arc);
        else
            answer(s, &req);
    }
    if (arc == 0)
        funk_accel_session_delete(s);
    return rc < 0 || arc < 0 ? 1 : 0;
}
