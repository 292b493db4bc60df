/* SPDX-License-Identifier: Apache-2.0 */
/* echo: answers every request with its body, unchanged, and its metadata as response headers
 * (X-Echo-Method/-Path/-Query/-Id, and each request header as X-Echo-H-<Name>); with the request
 * header "X-Echo-Format: json" the body is instead one JSON object holding method, path, query,
 * headers and body. The same source builds as a unikernel and as a native process. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* String literals: their length is known at compile time (strlen costs instructions). */
#define PUT_LIT(h, len, lit) put(h, len, lit, sizeof(lit) - 1)

/* Reflects "Name: value" request lines as "X-Echo-H-Name: value". Control characters cannot
 * appear: the host validated header lines when it parsed the request. */
static void reflect_headers(const struct funk_fn_req *req, char *h, size_t *len)
{
    const char *p = req->headers, *end = p + req->headers_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol != NULL ? eol : end) - p);
        if (n > 0 && memchr(p, ':', n) != NULL) {
            if (!PUT_LIT(h, len, "X-Echo-H-") || !put(h, len, p, n) || !PUT_LIT(h, len, "\n"))
                return;
        }
        p += n + 1;
    }
}

/* Appends s[0..n) as a JSON string (with quotes); bytes >= 0x80 become \u00XX. */
static char *json_str(char *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    return o;
}

static char *json_lit(char *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

/* The whole request as JSON: {"method":..,"path":..,"query":..,"headers":{..},"body":..}. */
static int send_json(const struct funk_fn_req *req)
{
    size_t cap = 6 * (strlen(req->method) + strlen(req->path) + strlen(req->query) +
                      req->headers_len + req->body_len) +
                 128;
    char *out = malloc(cap), *o = out;
    if (out == NULL)
        return funk_fn_send(500, NULL, "out of memory\n", 14);
    o = json_lit(o, "{\"method\":");
    o = json_str(o, req->method, strlen(req->method));
    o = json_lit(o, ",\"path\":");
    o = json_str(o, req->path, strlen(req->path));
    o = json_lit(o, ",\"query\":");
    o = json_str(o, req->query, strlen(req->query));
    o = json_lit(o, ",\"headers\":{");
    const char *p = req->headers, *end = p + req->headers_len;
    int first = 1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol != NULL ? eol : end) - p);
        const char *colon = memchr(p, ':', n);
        if (colon != NULL) {
            const char *v = colon + 1, *ve = p + n;
            while (v < ve && *v == ' ')
                v++;
            if (!first)
                *o++ = ',';
            first = 0;
            o = json_str(o, p, (size_t)(colon - p));
            *o++ = ':';
            o = json_str(o, v, (size_t)(ve - v));
        }
        p += n + 1;
    }
    o = json_lit(o, "},\"body\":");
    o = json_str(o, req->body, req->body_len);
    o = json_lit(o, "}\n");
    int r = funk_fn_send(200, "Content-Type: application/json\n", out, (size_t)(o - out));
    free(out);
    return r;
}

int main(void)
{
    static char hdr[HDR_MAX];
    struct funk_fn_req req;
    int r;
    while ((r = funk_fn_recv(&req)) == 0) {
        size_t flen;
        const char *fmt = funk_fn_header(&req, "X-Echo-Format", &flen);
        if (fmt != NULL && flen == 4 && memcmp(fmt, "json", 4) == 0) {
            if ((r = send_json(&req)) < 0)
                break;
            continue;
        }
        size_t len = 0;
        size_t ctlen = 0;
        const char *ct = funk_fn_header(&req, "Content-Type", &ctlen);
        /* the id by hand: printf costs ~1 ms per call under emulated KVM */
        char idline[40] = "X-Echo-Id: ", digits[21];
        int nd = 0;
        uint64_t id = req.id;
        do {
            digits[nd++] = (char)('0' + id % 10);
            id /= 10;
        } while (id != 0);
        size_t il = 11;
        while (nd > 0)
            idline[il++] = digits[--nd];
        idline[il++] = '\n';
        idline[il] = '\0';
        PUT_LIT(hdr, &len, "Content-Type: ");
        if (ct != NULL)
            put(hdr, &len, ct, ctlen);
        else
            PUT_LIT(hdr, &len, "application/octet-stream");
        PUT_LIT(hdr, &len, "\nX-Echo-Method: ");
        put(hdr, &len, req.method, strlen(req.method));
        PUT_LIT(hdr, &len, "\nX-Echo-Path: ");
        put(hdr, &len, req.path, strlen(req.path));
        PUT_LIT(hdr, &len, "\nX-Echo-Query: ");
        put(hdr, &len, req.query, strlen(req.query));
        PUT_LIT(hdr, &len, "\n");
        put(hdr, &len, idline, il);
        reflect_headers(&req, hdr, &len);
        if ((r = funk_fn_send(200, hdr, req.body, req.body_len)) < 0)
            break;
    }
    if (r < 0) {
        printf("echo: %s\n", strerror(-r));
        return 1;
    }
    return 0;
}
