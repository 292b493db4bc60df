/* SPDX-License-Identifier: Apache-2.0 */
/* Function I/O in a unikernel: FN_RECV/FN_SEND hypercalls into a growable request buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <funk/fn.h>
#include <funk/guest.h>

#include "sdk.h"

static char *req_buf;
static size_t req_cap;

#define REQ_BUF_INITIAL (16u * 1024u)

/* Checks that a field [off, off+len] (plus its NUL) lies inside the request and returns it. */
static const char *field(const struct funk_fn_request *r, uint32_t off, uint32_t len)
{
    if ((uint64_t)off + len + 1 > r->size || off < sizeof *r || req_buf[off + len] != '\0')
        return NULL;
    return req_buf + off;
}

int funk_fn_recv(struct funk_fn_req *req)
{
    if (req_buf == NULL) {
        req_buf = malloc(REQ_BUF_INITIAL);
        if (req_buf == NULL)
            return -ENOMEM;
        req_cap = REQ_BUF_INITIAL;
    }
    for (;;) {
        struct funk_hc_fn_recv a = {.buf = req_buf, .len = req_cap};
        sdk_hypercall(FUNK_HC_FN_RECV, &a);
        if (a.ret == FUNK_FN_NOMORE)
            return 1;
        if (a.ret == FUNK_FN_TOOSMALL) {
            if (a.needed <= req_cap || a.needed > (1ull << 32))
                return -EPROTO;
            size_t cap = ((size_t)a.needed + 4095) & ~(size_t)4095;
            char *nb = malloc(cap);
            if (nb == NULL)
                return -ENOMEM;
            free(req_buf);
            req_buf = nb;
            req_cap = cap;
            continue;
        }
        if (a.ret != FUNK_FN_OK)
            return a.ret == FUNK_FN_EINVAL ? -EINVAL : -EIO;
        const struct funk_fn_request *r = (const struct funk_fn_request *)req_buf;
        if (r->size > req_cap || r->size < sizeof *r)
            return -EPROTO;
        req->method = field(r, r->method_off, r->method_len);
        req->path = field(r, r->path_off, r->path_len);
        req->query = field(r, r->query_off, r->query_len);
        req->headers = field(r, r->headers_off, r->headers_len);
        req->body = field(r, r->body_off, r->body_len);
        if (!req->method || !req->path || !req->query || !req->headers || !req->body)
            return -EPROTO;
        req->headers_len = r->headers_len;
        req->body_len = r->body_len;
        req->id = r->id;
        return 0;
    }
}

int funk_fn_send(unsigned status, const char *headers, const void *body, size_t body_len)
{
    if (status < 100 || status > 599 || (body == NULL && body_len != 0))
        return -EINVAL;
    struct funk_hc_fn_send a = {
        .status = status,
        .headers = headers,
        .headers_len = headers != NULL ? strlen(headers) : 0,
        .body = body,
        .body_len = body_len,
    };
    sdk_hypercall(FUNK_HC_FN_SEND, &a);
    switch (a.ret) {
    case FUNK_FN_OK:
        return 0;
    case FUNK_FN_EINVAL:
        return -EINVAL;
    default:
        return -EIO;
    }
}
