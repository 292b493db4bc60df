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
#include <sys/uio.h>
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

int wd_write2(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
    struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    while (iov[0].iov_len + iov[1].iov_len) {
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        for (size_t i = 0; i < 2; i++) {
            size_t t = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + t;
            iov[i].iov_len -= t;
            w -= (ssize_t)t;
        }
        if (!iov[0].iov_len) { /* sendmsg needs no empty entry first */
            m.msg_iov = &iov[1];
            m.msg_iovlen = 1;
        }
    }
    return 0;
}

int wd_respond(int fd, int keep, unsigned status, const char *ctype, const char *extra,
               const void *body, size_t len)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: "
                     "%s\r\n%s\r\n",
                     status, wd_reason(status), ctype ? ctype : "text/plain; charset=utf-8", len,
                     keep ? "keep-alive" : "close", extra ? extra : "");
    if (n < 0 || (size_t)n >= sizeof head)
        return -1;
    return wd_write2(fd, head, (size_t)n, body, len);
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

uint64_t wd_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void wd_rbuf_init(struct wd_rbuf *b, int fd)
{
    memset(b, 0, sizeof *b);
    b->fd = fd;
}

void wd_rbuf_free(struct wd_rbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->off = b->cap = 0;
}

/* Waits until fd is readable before the deadline (monotonic ms, 0 = none): 0, or -1 (the
 * deadline passed, or poll failed). */
static int wait_readable(int fd, uint64_t deadline)
{
    for (;;) {
        if (!deadline) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, -1) < 0 && errno != EINTR)
                return -1;
            return 0;
        }
        uint64_t now = wd_mono_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = now >= deadline ? 0 : (int)(deadline - now);
        int pr = left ? poll(&p, 1, left) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            errno = EAGAIN;
            return -1;
        }
        return 0;
    }
}

/* Reads at least one more byte into b. The deadline is for the whole message: a peer trickling
 * a byte at a time does not extend it. Returns 0, or -1 (errno ECONNRESET on EOF: closed early;
 * timed_out set when the deadline passed). */
static int rb_more(struct wd_rbuf *b)
{
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
    for (;;) {
        /* what is there already costs one call; otherwise wait for it within the deadline */
        ssize_t r = recv(b->fd, b->p + b->len, 65536, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_readable(b->fd, b->deadline) < 0) {
                b->timed_out = 1;
                return -1;
            }
            continue;
        }
        if (r == 0)
            errno = ECONNRESET;
        if (r <= 0)
            return -1;
        b->len += (size_t)r;
        b->total += (size_t)r;
        return 0;
    }
}

static int rb_fill(struct wd_rbuf *b, size_t want)
{
    while (b->len - b->off < want)
        if (rb_more(b) < 0)
            return -1;
    return 0;
}

/* A line ending in CRLF (or LF) from the reader, NUL-terminated in place. */
static char *rb_line(struct wd_rbuf *b)
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
        if (b->len - b->off > 4096 || rb_more(b) < 0)
            return NULL;
    }
}

/* Reads until b holds a whole head (up to the empty line, CRLF or bare LF); its length in *hl.
 * Returns 0, 431 when it would exceed WD_MAX_HEAD, -1 when the read failed. Each byte is looked
 * at once however the peer splits its writes. */
static int rb_head(struct wd_rbuf *b, size_t *hl)
{
    size_t scan = 0; /* bytes after off already searched */
    for (;;) {
        const char *s = b->p + b->off;
        size_t n = b->len - b->off;
        for (size_t i = scan; i < n; i++) {
            if (s[i] != '\n')
                continue;
            if (i + 1 < n && s[i + 1] == '\n') {
                *hl = i + 2;
                return 0;
            }
            if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
                *hl = i + 3;
                return 0;
            }
            if (i + 2 >= n) { /* the terminator may continue in the next read */
                scan = i;
                goto more;
            }
        }
        scan = n;
    more:
        if (n >= WD_MAX_HEAD)
            return 431;
        if (rb_more(b) < 0)
            return -1;
    }
}

/* A chunked body into body/blen (appended). Returns 0, 400 (bad framing or the peer closed or
 * stalled: b->timed_out tells), 413 (over WD_MAX_BODY) or 500. */
static int read_chunked(struct wd_rbuf *b, char **body, size_t *blen)
{
    size_t cap = *blen;
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
            /* trailers until the empty line, no more of them than a head */
            size_t tl = 0;
            while ((line = rb_line(b)) && *line)
                if ((tl += strlen(line) + 2) > WD_MAX_HEAD)
                    return 431;
            return line ? 0 : 400;
        }
        if (n > WD_MAX_BODY - *blen) /* *blen <= WD_MAX_BODY: cannot wrap */
            return 413;
        if (rb_fill(b, n + 2) < 0)
            return 400;
        if (*blen + n > cap) {
            cap = (*blen + n) * 2;
            char *nb = realloc(*body, cap);
            if (!nb)
                return 500;
            *body = nb;
        }
        memcpy(*body + *blen, b->p + b->off, n);
        *blen += n;
        b->off += n;
        line = rb_line(b);
        if (!line || *line)
            return 400;
    }
}

/* Whether a comma-separated header value (e.g. Connection) lists token. */
static int has_token(const char *v, const char *token)
{
    size_t tl = strlen(token);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - v) == tl && strncasecmp(v, token, tl) == 0)
            return 1;
        v = e;
    }
    return 0;
}

static size_t header_count(const struct wd_request *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nh; i++)
        n += strcasecmp(r->h[i].name, name) == 0;
    return n;
}

static int conn_has(const struct wd_request *r, const char *token)
{
    for (size_t i = 0; i < r->nh; i++)
        if (strcasecmp(r->h[i].name, "Connection") == 0 && has_token(r->h[i].value, token))
            return 1;
    return 0;
}

int wd_read_request_buf(struct wd_rbuf *b, struct wd_request *r, uint64_t idle_ms,
                        uint64_t timeout_ms)
{
    memset(r, 0, sizeof *r);
    b->timed_out = 0;
    if (idle_ms && b->len == b->off) {
        /* between requests: nothing by the idle timeout, or EOF, closes the connection quietly */
        b->deadline = wd_mono_ms() + idle_ms;
        if (rb_more(b) < 0)
            return -1;
    }
    b->deadline = timeout_ms ? wd_mono_ms() + timeout_ms : 0;
    size_t head_len;
    int hr = rb_head(b, &head_len);
    if (hr > 0)
        return hr;
    if (hr < 0) {
        int empty = b->len == b->off;
        return empty && !b->timed_out ? -1 : b->timed_out ? 408 : 400;
    }
    r->raw = malloc(head_len + 1);
    if (!r->raw)
        return 500;
    memcpy(r->raw, b->p + b->off, head_len);
    r->raw[head_len] = '\0';
    b->off += head_len;

    char *save = NULL, *line = strtok_r(r->raw, "\r\n", &save);
    char *sp1 = line ? strchr(line, ' ') : NULL, *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || (size_t)(sp1 - line) >= sizeof r->method ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return 400;
    r->http10 = strcmp(sp2 + 1, "HTTP/1.0") == 0;
    memcpy(r->method, line, (size_t)(sp1 - line));
    r->method[sp1 - line] = '\0';
    *sp2 = '\0';
    r->target = sp1 + 1;
    if (r->target[0] != '/')
        return 400;
    r->path = strdup(r->target);
    if (!r->path)
        return 500;
    char *q = strchr(r->path, '?');
    r->query = q ? q + 1 : (char *)"";
    if (q)
        *q = '\0';
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon || colon == line || r->nh == WD_MAX_HEADERS)
            return r->nh == WD_MAX_HEADERS ? 431 : 400;
        /* "Content-Length : 5" or a folded line: a name another server may read differently */
        if (strcspn(line, " \t") < (size_t)(colon - line))
            return 400;
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
    r->keep_alive = r->http10 ? conn_has(r, "keep-alive") : !conn_has(r, "close");
    /* One framing, stated once: with a persistent connection, two readings of where this body
     * ends would let one request hide another (request smuggling). */
    const char *te = wd_header_get(r, "Transfer-Encoding");
    const char *cl = wd_header_get(r, "Content-Length");
    if (header_count(r, "Transfer-Encoding") > 1 || header_count(r, "Content-Length") > 1 ||
        (te && cl) || (te && strcasecmp(te, "chunked") != 0))
        return 400;
    /* curl asks before sending bodies over 1 KiB; answering saves its one-second wait. */
    const char *expect = wd_header_get(r, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && b->len == b->off && (te || cl))
        wd_write_all(b->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    if (te) {
        int rc = read_chunked(b, &r->body, &r->body_len);
        return rc == 400 && b->timed_out ? 408 : rc;
    }
    if (cl) {
        char *e;
        errno = 0;
        unsigned long long n = strtoull(cl, &e, 10);
        if (errno || *e || e == cl || !isdigit((unsigned char)cl[0]))
            return 400;
        if (n > WD_MAX_BODY)
            return 413;
        if (n) {
            if (rb_fill(b, (size_t)n) < 0)
                return b->timed_out ? 408 : 400;
            if (!(r->body = malloc((size_t)n)))
                return 500;
            memcpy(r->body, b->p + b->off, (size_t)n);
            r->body_len = (size_t)n;
            b->off += (size_t)n;
        }
    }
    return 0;
}

int wd_read_request(int fd, struct wd_request *r, uint64_t timeout_ms)
{
    struct wd_rbuf b;
    wd_rbuf_init(&b, fd);
    int rc = wd_read_request_buf(&b, r, 0, timeout_ms);
    wd_rbuf_free(&b);
    return rc;
}

void wd_response_free(struct wd_response *res)
{
    free(res->head);
    free(res->body);
    res->head = res->body = NULL;
}

/* The value of header name in one line "Name: value" (NUL-terminated, no line end), or NULL. */
static const char *line_value(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    line += n + 1;
    while (*line == ' ' || *line == '\t')
        line++;
    return line;
}

/* Reads until EOF (a body delimited by the upstream closing): 0, or a negative errno. */
static int read_to_close(struct wd_rbuf *b, struct wd_response *res)
{
    for (;;) {
        if (b->len - b->off > WD_MAX_BODY)
            return -EFBIG;
        if (rb_more(b) < 0) {
            if (b->timed_out)
                return -ETIMEDOUT;
            if (errno != ECONNRESET)
                return -errno;
            break;
        }
    }
    res->body_len = b->len - b->off;
    if (res->body_len && !(res->body = malloc(res->body_len)))
        return -ENOMEM;
    memcpy(res->body, b->p + b->off, res->body_len);
    b->off = b->len;
    return 0;
}

int wd_read_response(struct wd_rbuf *b, int head_req, struct wd_response *res)
{
    memset(res, 0, sizeof *res);
    res->content_length = -1;
    int rc = 0;
    char *h = NULL;
    for (;;) {
        size_t hl;
        int hr = rb_head(b, &hl);
        if (hr) {
            rc = hr > 0 ? -EFBIG : b->timed_out ? -ETIMEDOUT : -ECONNRESET;
            goto out;
        }
        free(h);
        if (!(h = malloc(hl + 1))) {
            rc = -ENOMEM;
            goto out;
        }
        memcpy(h, b->p + b->off, hl);
        h[hl] = '\0';
        b->off += hl;
        /* "HTTP/1.x NNN": the rest of the status line is the reason, ours replaces it */
        if (hl < 12 || strncmp(h, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)h[7]) ||
            h[8] != ' ' || !isdigit((unsigned char)h[9]) || !isdigit((unsigned char)h[10]) ||
            !isdigit((unsigned char)h[11]) ||
            (hl > 12 && h[12] != ' ' && h[12] != '\r' && h[12] != '\n')) {
            rc = -EPROTO;
            goto out;
        }
        res->status = (unsigned)((h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0'));
        res->http10 = h[7] == '0';
        if (res->status < 100 || res->status == 101) { /* no upgrades through the watchdog */
            rc = -EPROTO;
            goto out;
        }
        if (res->status >= 200)
            break;
        /* 1xx (e.g. 100 Continue): an interim answer, the real one follows */
    }
    /* Header lines, looked at in place: framing and persistence. */
    int chunked = 0, close_tok = 0, keep_tok = 0;
    char *first = strchr(h, '\n') + 1;
    for (char *l = first; *l;) {
        char *nl = strchr(l, '\n');
        size_t ll = nl ? (size_t)(nl - l) : strlen(l);
        if (ll && l[ll - 1] == '\r')
            ll--;
        char save = l[ll];
        l[ll] = '\0';
        const char *v;
        if ((v = line_value(l, "Transfer-Encoding"))) {
            /* only chunked alone is a coding the watchdog can take apart and relay as is */
            if (strcasecmp(v, "chunked") != 0 || chunked) {
                rc = -EPROTO;
                l[ll] = save;
                goto out;
            }
            chunked = 1;
        } else if ((v = line_value(l, "Content-Length"))) {
            char *e;
            errno = 0;
            long long n = strtoll(v, &e, 10);
            if (errno || e == v || *e || !isdigit((unsigned char)*v) ||
                (res->content_length >= 0 && res->content_length != n)) {
                rc = -EPROTO;
                l[ll] = save;
                goto out;
            }
            res->content_length = n;
        } else if ((v = line_value(l, "Connection"))) {
            close_tok |= has_token(v, "close");
            keep_tok |= has_token(v, "keep-alive");
        }
        l[ll] = save;
        l = nl ? nl + 1 : l + ll;
    }
    memmove(h, first, strlen(first) + 1);
    res->head = h;
    h = NULL;
    res->keep = res->http10 ? keep_tok && !close_tok : !close_tok;
    if (head_req || res->status == 204 || res->status == 304) {
        /* no body, whatever Content-Length says */
    } else if (chunked) {
        int cr = read_chunked(b, &res->body, &res->body_len);
        if (cr)
            rc = cr == 413 || cr == 431 ? -EFBIG
                 : cr == 500            ? -ENOMEM
                 : b->timed_out         ? -ETIMEDOUT
                 : errno == ECONNRESET  ? -ECONNRESET
                                        : -EPROTO;
    } else if (res->content_length >= 0) {
        if ((unsigned long long)res->content_length > WD_MAX_BODY) {
            rc = -EFBIG;
        } else if (rb_fill(b, (size_t)res->content_length) < 0) {
            rc = b->timed_out ? -ETIMEDOUT : -ECONNRESET;
        } else if (res->content_length) {
            res->body_len = (size_t)res->content_length;
            if (!(res->body = malloc(res->body_len)))
                rc = -ENOMEM;
            else
                memcpy(res->body, b->p + b->off, res->body_len);
            b->off += res->body_len;
        }
    } else {
        res->keep = 0;
        rc = read_to_close(b, res);
    }
    if (b->len != b->off)
        res->keep = 0; /* bytes nobody asked for: the connection is not in a known state */
out:
    res->got = b->total;
    if (rc)
        res->keep = 0;
    free(h);
    return rc;
}
