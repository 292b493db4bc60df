/* SPDX-License-Identifier: Apache-2.0 */
/* Function I/O for a native (Linux process) build: one request from the CGI environment and
 * stdin, the response to stdout. Lets the same function source run as a forked process. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <funk/fn.h>

extern char **environ;

static int served; /* 0: before the request, 1: request handed out, 2: response sent */
static char *body_buf;
static char *hdr_buf;

/* Appends "Name: value\n" for each HTTP_* variable (HTTP_X_FOO -> X-Foo) and CONTENT_TYPE. */
static int build_headers(size_t *len)
{
    size_t cap = 256, n = 0;
    char *b = malloc(cap);
    if (b == NULL)
        return -ENOMEM;
    for (char **e = environ; *e != NULL; e++) {
        const char *name, *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        if (strncmp(*e, "HTTP_", 5) == 0)
            name = *e + 5;
        else if (strncmp(*e, "CONTENT_TYPE=", 13) == 0)
            name = *e;
        else
            continue;
        size_t nl = (size_t)(eq - name), vl = strlen(eq + 1);
        while (n + nl + vl + 4 > cap) {
            cap *= 2;
            char *nb = realloc(b, cap);
            if (nb == NULL) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
        }
        int up = 1;
        for (size_t i = 0; i < nl; i++) {
            char c = name[i] == '_' ? '-' : name[i];
            b[n++] = up ? (char)toupper((unsigned char)c) : (char)tolower((unsigned char)c);
            up = c == '-';
        }
        b[n++] = ':';
        b[n++] = ' ';
        memcpy(b + n, eq + 1, vl);
        n += vl;
        b[n++] = '\n';
    }
    b[n] = '\0';
    hdr_buf = b;
    *len = n;
    return 0;
}

static int read_body(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    if (b == NULL)
        return -ENOMEM;
    for (;;) {
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(b, cap + 1);
            if (nb == NULL) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
        }
        ssize_t r = read(STDIN_FILENO, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = -errno;
            free(b);
            return err;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    b[n] = '\0';
    body_buf = b;
    *len = n;
    return 0;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : dflt;
}

int funk_fn_recv(struct funk_fn_req *req)
{
    if (served != 0)
        return 1; /* one request per process */
    int r = build_headers(&req->headers_len);
    if (r < 0)
        return r;
    r = read_body(&req->body_len);
    if (r < 0)
        return r;
    req->method = env_or("REQUEST_METHOD", "POST");
    req->path = env_or("PATH_INFO", "/");
    req->query = env_or("QUERY_STRING", "");
    req->headers = hdr_buf;
    req->body = body_buf;
    req->id = 0;
    served = 1;
    return 0;
}

static int write_all(const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(STDOUT_FILENO, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int funk_fn_send(unsigned status, const char *headers, const void *body, size_t body_len)
{
    if (status < 100 || status > 599 || served != 1 || (body == NULL && body_len != 0))
        return -EINVAL;
    const char *cgi = getenv("FUNK_FN_CGI");
    if (cgi != NULL && strcmp(cgi, "1") == 0) {
        char line[32];
        int n = snprintf(line, sizeof line, "Status: %u\r\n", status);
        if (write_all(line, (size_t)n) < 0)
            return -EIO;
        for (const char *p = headers; p != NULL && *p;) {
            size_t l = strcspn(p, "\n");
            if (l > 0 && (write_all(p, l) < 0 || write_all("\r\n", 2) < 0))
                return -EIO;
            p += l + (p[l] == '\n');
        }
        if (write_all("\r\n", 2) < 0)
            return -EIO;
    }
    if (write_all(body, body_len) < 0)
        return -EIO;
    served = 2; /* the request stays readable until the process ends */
    return 0;
}
