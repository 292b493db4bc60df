/* SPDX-License-Identifier: Apache-2.0 */
/* funk-watchdog: the small HTTP/1.1 server side: request parsing (Content-Length and chunked
 * bodies) and response writing. */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "watchdog.h"

const char *wd_reason(unsigned status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

int wd_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int wd_respond(int fd, unsigned status, const char *ctype, const char *extra, const void *body,
               size_t len)
{
    char head[1024];
    int n = snprintf(
        head, sizeof head,
        "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
        status, wd_reason(status), ctype ? ctype : "text/plain; charset=utf-8", len,
        extra ? extra : "");
    if (n < 0 || (size_t)n >= sizeof head)
        return -1;
    if (wd_write_all(fd, head, (size_t)n) < 0)
        return -1;
    return len ? wd_write_all(fd, body, len) : 0;
}

const char *wd_header_get(const struct wd_request *r, const char *name)
{
    for (size_t i = 0; i < r->nh; i++)
        if (strcasecmp(r->h[i].name, name) == 0)
            return r->h[i].value;
    return NULL;
}

void wd_request_free(struct wd_request *r)
{
    free(r->raw);
    free(r->body);
    free(r->path);
    memset(r, 0, sizeof *r);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads more bytes into buf; returns bytes read, 0 on EOF, -1 on error (errno kept) or when the
 * deadline (monotonic ms, 0 = none) has passed (errno EAGAIN). The deadline is for the whole
 * request: a client trickling a byte at a time does not extend it. */
static ssize_t rd(int fd, char *buf, size_t n, uint64_t deadline)
{
    for (;;) {
        if (deadline) {
            uint64_t now = mono_ms();
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int left = now >= deadline ? 0 : (int)(deadline - now);
            int pr = left ? poll(&p, 1, left) : 0;
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr == 0) {
                errno = EAGAIN;
                return -1;
            }
        }
        ssize_t r = recv(fd, buf, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

/* A buffered reader over the connection, holding what was read past the headers. */
struct rbuf {
    int fd;
    char *p;
    size_t len, off, cap; /* cap: allocated bytes of p */
    uint64_t deadline;
};

static int rb_fill(struct rbuf *b, size_t want)
{
    while (b->len - b->off < want) {
        if (b->off) {
            memmove(b->p, b->p + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        if (b->cap < b->len + 65536) {
            /* doubling: a 60 MiB body costs a few copies, not one per 64 KiB read */
            size_t cap = b->cap * 2 > b->len + 65536 ? b->cap * 2 : b->len + 65536;
            char *np = realloc(b->p, cap);
            if (!np)
                return -1;
            b->p = np;
            b->cap = cap;
        }
        ssize_t r = rd(b->fd, b->p + b->len, 65536, b->deadline);
        if (r == 0)
            errno = ECONNRESET; /* closed early: a bad request, not a timeout */
        if (r <= 0)
            return -1;
        b->len += (size_t)r;
    }
    return 0;
}

/* A line ending in CRLF (or LF) from the reader, NUL-terminated in place. */
static char *rb_line(struct rbuf *b)
{
    for (;;) {
        char *nl = memchr(b->p + b->off, '\n', b->len - b->off);
        if (nl) {
            *nl = '\0';
            if (nl > b->p + b->off && nl[-1] == '\r')
                nl[-1] = '\0';
            char *line = b->p + b->off;
            b->off = (size_t)(nl + 1 - b->p);
            return line;
        }
        if (b->len - b->off > 4096 || rb_fill(b, b->len - b->off + 1) < 0)
            return NULL;
    }
}

static int read_chunked(struct rbuf *b, struct wd_request *r)
{
    size_t cap = 0;
    for (;;) {
        char *line = rb_line(b);
        if (!line)
            return 400;
        char *end;
        errno = 0;
        unsigned long n = strtoul(line, &end, 16);
        /* strtoul also takes a sign and spaces: "-1" would be ULONG_MAX */
        if (end == line || errno || !isxdigit((unsigned char)line[0]))
            return 400;
        if (n == 0) {
            /* trailers until the empty line */
            while ((line = rb_line(b)) && *line)
                ;
            return line ? 0 : 400;
        }
        if (n > WD_MAX_BODY - r->body_len) /* body_len <= WD_MAX_BODY: cannot wrap */
            return 413;
        if (rb_fill(b, n + 2) < 0)
            return 400;
        if (r->body_len + n > cap) {
            cap = (r->body_len + n) * 2;
            char *nb = realloc(r->body, cap);
            if (!nb)
                return 500;
            r->body = nb;
        }
        memcpy(r->body + r->body_len, b->p + b->off, n);
        r->body_len += n;
        b->off += n;
        line = rb_line(b);
        if (!line || *line)
            return 400;
    }
}

int wd_read_request(int fd, struct wd_request *r, uint64_t timeout_ms)
{
    memset(r, 0, sizeof *r);
    struct rbuf b = {.fd = fd, .deadline = timeout_ms ? mono_ms() + timeout_ms : 0};
    /* Headers: read until the blank line. */
    char *end = NULL;
    while (!end) {
        if (b.len >= WD_MAX_HEAD) {
            free(b.p);
            return 431;
        }
        char *np = realloc(b.p, b.len + 8192 + 1);
        if (!np) {
            free(b.p);
            return 500;
        }
        b.p = np;
        b.cap = b.len + 8192 + 1;
        ssize_t n = rd(fd, b.p + b.len, 8192, b.deadline);
        if (n <= 0) {
            int timeout = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
            int empty = b.len == 0;
            free(b.p);
            return empty && !timeout ? -1 : timeout ? 408 : 400;
        }
        b.len += (size_t)n;
        b.p[b.len] = '\0';
        end = strstr(b.p, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - b.p) + 4;
    r->raw = malloc(head_len + 1);
    if (!r->raw) {
        free(b.p);
        return 500;
    }
    memcpy(r->raw, b.p, head_len);
    r->raw[head_len] = '\0';
    b.off = head_len;

    char *save = NULL, *line = strtok_r(r->raw, "\r\n", &save);
    char *sp1 = line ? strchr(line, ' ') : NULL, *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || (size_t)(sp1 - line) >= sizeof r->method ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        free(b.p);
        return 400;
    }
    memcpy(r->method, line, (size_t)(sp1 - line));
    r->method[sp1 - line] = '\0';
    *sp2 = '\0';
    r->target = sp1 + 1;
    if (r->target[0] != '/') {
        free(b.p);
        return 400;
    }
    r->path = strdup(r->target);
    char *q = r->path ? strchr(r->path, '?') : NULL;
    r->query = q ? q + 1 : (char *)"";
    if (q)
        *q = '\0';
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon || colon == line || r->nh == WD_MAX_HEADERS) {
            free(b.p);
            return r->nh == WD_MAX_HEADERS ? 431 : 400;
        }
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        r->h[r->nh].name = line;
        r->h[r->nh].value = v;
        r->nh++;
    }
    int rc = 0;
    /* curl asks before sending bodies over 1 KiB; answering saves its one-second wait. */
    const char *expect = wd_header_get(r, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && b.len == b.off)
        wd_write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    const char *te = wd_header_get(r, "Transfer-Encoding");
    const char *cl = wd_header_get(r, "Content-Length");
    if (te && strcasecmp(te, "chunked") == 0) {
        rc = read_chunked(&b, r);
    } else if (cl) {
        char *e;
        errno = 0;
        unsigned long long n = strtoull(cl, &e, 10);
        if (errno || *e || e == cl)
            rc = 400;
        else if (n > WD_MAX_BODY)
            rc = 413;
        else if (n) {
            if (rb_fill(&b, (size_t)n) < 0)
                rc = errno == EAGAIN || errno == EWOULDBLOCK ? 408 : 400;
            else if (!(r->body = malloc((size_t)n)))
                rc = 500;
            else {
                memcpy(r->body, b.p + b.off, (size_t)n);
                r->body_len = (size_t)n;
            }
        }
    }
    free(b.p);
    return rc;
}
