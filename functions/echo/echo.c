/* SPDX-License-Identifier: Apache-2.0 */
/* echo: answers every request with its body, unchanged, and its metadata as response headers
 * (X-Echo-Method/-Path/-Query/-Id, and each request header as X-Echo-H-<Name>). The same source
 * builds as a unikernel and as a native process (funk-echo-native). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <funk/fn.h>

#define HDR_MAX 8192

/* Appends s[0..n) to the header block; false when it would not fit. */
static int put(char *h, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > HDR_MAX)
        return 0;
    memcpy(h + *len, s, n);
    *len += n;
    h[*len] = '\0';
    return 1;
}

static int puts_(char *h, size_t *len, const char *s)
{
    return put(h, len, s, strlen(s));
}

/* Reflects "Name: value" request lines as "X-Echo-H-Name: value". Control characters cannot
 * appear: the host validated header lines when it parsed the request. */
static void reflect_headers(const struct funk_fn_req *req, char *h, size_t *len)
{
    const char *p = req->headers, *end = p + req->headers_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol != NULL ? eol : end) - p);
        if (n > 0 && memchr(p, ':', n) != NULL) {
            if (!puts_(h, len, "X-Echo-H-") || !put(h, len, p, n) || !puts_(h, len, "\n"))
                return;
        }
        p += n + 1;
    }
}

int main(void)
{
    static char hdr[HDR_MAX];
    struct funk_fn_req req;
    int r;
    while ((r = funk_fn_recv(&req)) == 0) {
        size_t len = 0;
        size_t ctlen = 0;
        const char *ct = funk_fn_header(&req, "Content-Type", &ctlen);
        char idline[48];
        snprintf(idline, sizeof idline, "X-Echo-Id: %llu\n", (unsigned long long)req.id);
        puts_(hdr, &len, "Content-Type: ");
        if (ct != NULL)
            put(hdr, &len, ct, ctlen);
        else
            puts_(hdr, &len, "application/octet-stream");
        puts_(hdr, &len, "\nX-Echo-Method: ");
        puts_(hdr, &len, req.method);
        puts_(hdr, &len, "\nX-Echo-Path: ");
        puts_(hdr, &len, req.path);
        puts_(hdr, &len, "\nX-Echo-Query: ");
        puts_(hdr, &len, req.query);
        puts_(hdr, &len, "\n");
        puts_(hdr, &len, idline);
        reflect_headers(&req, hdr, &len);
        r = funk_fn_send(200, hdr, req.body, req.body_len);
        if (r < 0) {
            printf("echo: send failed: %s\n", strerror(-r));
            return 1;
        }
    }
    if (r < 0) {
        printf("echo: recv failed: %s\n", strerror(-r));
        return 1;
    }
    return 0;
}
