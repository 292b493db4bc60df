/* SPDX-License-Identifier: Apache-2.0 */
/* sgemm: two matrices in, their product out, binary and little-endian:
 *   request body  = u32 M, u32 N, u32 K, then A (M*K f32, row-major), then B (K*N f32)
 *   response body = C = A*B (M*N f32, row-major), Content-Type: application/octet-stream
 * One source: native (libfunk-accel) and unikernel (ACCEL hypercall). Errors: 400 with a text
 * reason, 502 when the accelerator fails. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <funk/accel.h>
#include <funk/fn.h>

#define DIM_MAX 4096u

/* The one place floats are passed (alpha = 1, beta = 0). Guests are built without SSE; this
 * function may use SSE registers, for moves only, and loads them with movaps (other loads, or a
 * literal 0.0f which becomes pxor, are beyond KVM's instruction emulator on these hosts). */
static const float one4[4] __attribute__((aligned(16))) = {1.0f},
                           zero4[4] __attribute__((aligned(16)));

__attribute__((target("sse2"))) static int product(funk_accel_session *s, int m, int n, int k,
                                                   const float *a, const float *b, float *c)
{
    float one, zero;
    __asm__("movaps %1, %0" : "=x"(one) : "m"(one4));
    __asm__("movaps %1, %0" : "=x"(zero) : "m"(zero4));
    return funk_accel_sgemm(s, m, n, k, one, a, k, b, n, zero, c, n);
}

static void send_text(unsigned status, const char *msg)
{
    funk_fn_send(status, "Content-Type: text/plain\n", msg, strlen(msg));
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void answer(funk_accel_session *s, const struct funk_fn_req *req)
{
    const unsigned char *b = req->body;
    if (req->body_len < 12) {
        send_text(400, "sgemm: body must start with u32 M, N, K (little-endian)\n");
        return;
    }
    uint32_t m = le32(b), n = le32(b + 4), k = le32(b + 8);
    if (m == 0 || n == 0 || k == 0 || m > DIM_MAX || n > DIM_MAX || k > DIM_MAX) {
        send_text(400, "sgemm: M, N, K must be 1..4096\n");
        return;
    }
    size_t asz = (size_t)m * k * 4, bsz = (size_t)k * n * 4, csz = (size_t)m * n * 4;
    if (req->body_len != 12 + asz + bsz) {
        send_text(400, "sgemm: body size is not 12 + 4*(M*K + K*N) bytes\n");
        return;
    }
    /* A and B are used in place when aligned for floats (the body starts 8-aligned). */
    float *buf = malloc(csz + (((uintptr_t)b & 3) ? asz + bsz : 0));
    if (buf == NULL) {
        send_text(500, "sgemm: out of memory\n");
        return;
    }
    const float *a = (const float *)(const void *)(b + 12), *bm = a + (size_t)m * k;
    if ((uintptr_t)b & 3) {
        memcpy(buf + (size_t)m * n, b + 12, asz + bsz);
        a = buf + (size_t)m * n;
        bm = a + (size_t)m * k;
    }
    int rc = product(s, (int)m, (int)n, (int)k, a, bm, buf);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "sgemm: %s (%d)\n", funk_accel_strerror(rc), rc);
        send_text(502, msg);
    } else {
        funk_fn_send(200, "Content-Type: application/octet-stream\n", buf, csz);
    }
    free(buf);
}

int main(void)
{
    funk_accel_session *s = NULL;
    int arc = funk_accel_session_new(&s), rc;
    struct funk_fn_req req;
    /* Without a session every request gets the reason (the response is the only channel). */
    while ((rc = funk_fn_recv(&req)) == 0) {
        if (arc < 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "sgemm: no accelerator session: %s (%d)\n",
                     funk_accel_strerror(arc), arc);
            send_text(502, msg);
        } else {
            answer(s, &req);
        }
    }
    if (arc == 0)
        funk_accel_session_delete(s);
    return rc < 0 || arc < 0 ? 1 : 0;
}
