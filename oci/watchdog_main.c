/* SPDX-License-Identifier: Apache-2.0 */
/* funk-watchdog: an of-watchdog compatible HTTP front for a function process (streaming,
 * serializing and http modes); with fprocess="funk-monitor echo.elf" each request boots a
 * unikernel. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "watchdog.h"

extern char **environ;

enum wd_mode { MODE_STREAMING, MODE_SERIALIZING, MODE_HTTP };

static struct {
    enum wd_mode mode;
    char **argv; /* fprocess split on spaces */
    int argc;
    int is_monitor; /* argv[0] is funk-monitor: requests go in through --fn-input=- */
    uint64_t exec_timeout_ms, read_timeout_ms, write_timeout_ms;
    long max_inflight;
    int port;
    char upstream_host[256];
    int upstream_port;
    const char *content_type;
    int prefix_logs;
    char lockfile[4096];
} cfg;

static atomic_long g_inflight;
static atomic_int g_draining;
static pid_t g_upstream_pid;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* of-watchdog durations: "10s", "500ms", "2m", "1h", or a bare integer of seconds. */
static int parse_duration(const char *s, uint64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || v > 1e9) /* also refuses nan and inf */
        return -1;
    double mul;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else
        return -1;
    *ms = (uint64_t)(v * mul);
    return 0;
}

static int env_duration(const char *name, uint64_t def_ms, uint64_t *out)
{
    const char *v = getenv(name);
    *out = def_ms;
    if (!v || !*v)
        return 0;
    if (parse_duration(v, out) < 0) {
        fprintf(stderr,
                "funk-watchdog: %s='%s' is not a duration (e.g. 10s, 500ms, 2m, or seconds)\n",
                name, v);
        return -1;
    }
    return 0;
}

static int config(void)
{
    const char *fp = getenv("fprocess");
    if (!fp || !*fp)
        fp = getenv("function_process");
    const char *mode = getenv("mode");
    if (!mode || !*mode || strcmp(mode, "streaming") == 0)
        cfg.mode = MODE_STREAMING;
    else if (strcmp(mode, "serializing") == 0)
        cfg.mode = MODE_SERIALIZING;
    else if (strcmp(mode, "http") == 0)
        cfg.mode = MODE_HTTP;
    else {
        fprintf(stderr, "funk-watchdog: mode='%s' is not streaming, serializing or http\n", mode);
        return -1;
    }
    if (!fp || !*fp) {
        fprintf(stderr,
                "funk-watchdog: set fprocess (or function_process) to the command to run\n");
        return -1;
    }
    char *copy = strdup(fp), *save = NULL;
    cfg.argv = calloc(strlen(fp) / 2 + 8, sizeof *cfg.argv);
    if (!copy || !cfg.argv)
        return -1;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
        cfg.argv[cfg.argc++] = t;
    if (cfg.argc == 0) {
        fprintf(stderr, "funk-watchdog: fprocess='%s' names no command\n", fp);
        free(copy);
        return -1;
    }
    const char *base = strrchr(cfg.argv[0], '/');
    base = base ? base + 1 : cfg.argv[0];
    cfg.is_monitor = strcmp(base, "funk-monitor") == 0;
    for (int i = 1; i < cfg.argc && cfg.is_monitor; i++)
        if (strncmp(cfg.argv[i], "--fn-input", 10) == 0)
            cfg.is_monitor = 0; /* the user wired the input themselves */

    if (env_duration("exec_timeout", 10000, &cfg.exec_timeout_ms) < 0 ||
        env_duration("read_timeout", 10000, &cfg.read_timeout_ms) < 0 ||
        env_duration("write_timeout", 10000, &cfg.write_timeout_ms) < 0)
        return -1;
    const char *mi = getenv("max_inflight");
    if (mi && *mi) {
        char *end;
        cfg.max_inflight = strtol(mi, &end, 10);
        if (*end || cfg.max_inflight < 0) {
            fprintf(stderr, "funk-watchdog: max_inflight='%s' is not a number >= 0\n", mi);
            return -1;
        }
    }
    const char *port = getenv("port");
    cfg.port = 8080;
    if (port && *port) {
        char *end;
        long p = strtol(port, &end, 10);
        if (*end || p < 0 || p > 65535) {
            fprintf(stderr, "funk-watchdog: port='%s' is not a TCP port\n", port);
            return -1;
        }
        cfg.port = (int)p;
    }
    cfg.content_type = getenv("content_type");
    const char *pl = getenv("prefix_logs");
    cfg.prefix_logs = !pl || strcmp(pl, "false") != 0;
    if (cfg.mode == MODE_HTTP) {
        const char *up = getenv("upstream_url");
        if (!up || !*up)
            up = "http://127.0.0.1:3000";
        if (strncmp(up, "http://", 7) != 0 ||
            sscanf(up + 7, "%255[^:/]:%d", cfg.upstream_host, &cfg.upstream_port) < 1) {
            fprintf(stderr, "funk-watchdog: upstream_url='%s' is not http://HOST[:PORT]\n", up);
            return -1;
        }
        if (cfg.upstream_port <= 0)
            cfg.upstream_port = 80;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(cfg.lockfile, sizeof cfg.lockfile, "%s/.lock", tmp && *tmp ? tmp : "/tmp");
    return 0;
}

/* Http_<Header> variables (canonical case, dashes to underscores), Http_Method/Path/Query,
 * then the watchdog's own environment. */
static char **build_env(const struct wd_request *r)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + r->nh + 8, sizeof *env);
    size_t k = 0;
    if (!env)
        return NULL;
    for (size_t i = 0; i < r->nh; i++) {
        size_t nl = strlen(r->h[i].name);
        char *s = malloc(5 + nl + 1 + strlen(r->h[i].value) + 1);
        if (!s)
            continue;
        memcpy(s, "Http_", 5);
        int up = 1;
        for (size_t j = 0; j < nl; j++) {
            char c = r->h[i].name[j];
            if (c == '-') {
                s[5 + j] = '_';
                up = 1;
            } else {
                s[5 + j] = (char)(up ? toupper((unsigned char)c) : tolower((unsigned char)c));
                up = 0;
            }
        }
        s[5 + nl] = '=';
        strcpy(s + 5 + nl + 1, r->h[i].value);
        env[k++] = s;
    }
    if (asprintf(&env[k], "Http_Method=%s", r->method) >= 0)
        k++;
    if (asprintf(&env[k], "Http_Path=%s", r->path ? r->path : "/") >= 0)
        k++;
    if (asprintf(&env[k], "Http_Query=%s", r->query ? r->query : "") >= 0)
        k++;
    for (size_t i = 0; i < n; i++)
        env[k++] = strdup(environ[i]);
    env[k] = NULL;
    return env;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* The command for one request: fprocess, plus for funk-monitor the request itself. */
static char **build_argv(const struct wd_request *r)
{
    char **a = calloc((size_t)cfg.argc + r->nh + 8, sizeof *a);
    int k = 0;
    if (!a)
        return NULL;
    a[k++] = strdup(cfg.argv[0]);
    if (cfg.is_monitor) {
        a[k++] = strdup("--fn-input=-");
        if (asprintf(&a[k], "--fn-method=%s", r->method) >= 0)
            k++;
        if (asprintf(&a[k], "--fn-path=%s", r->path ? r->path : "/") >= 0)
            k++;
        for (size_t i = 0; i < r->nh; i++)
            if (asprintf(&a[k], "--fn-header=%s: %s", r->h[i].name, r->h[i].value) >= 0)
                k++;
        if (cfg.exec_timeout_ms) {
            /* the monitor ends the guest itself a little after our own deadline */
            if (asprintf(&a[k], "--timeout=%.3f", (double)cfg.exec_timeout_ms / 1000.0 + 1.0) >= 0)
                k++;
        }
    }
    for (int i = 1; i < cfg.argc; i++)
        a[k++] = strdup(cfg.argv[i]);
    a[k] = NULL;
    return a;
}

/* ---- streaming and serializing ------------------------------------------------------------ */

struct stream_ctx {
    int fd;
    int started; /* headers sent */
    double t0;
    struct timespec wall; /* for X-Start-Time (Unix nanoseconds) */
    int failed;
};

static int stream_out(void *opaque, const char *data, size_t len)
{
    struct stream_ctx *s = opaque;
    if (!s->started) {
        char head[512];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: "
                         "chunked\r\nConnection: close\r\n"
                         "X-Start-Time: %lld%09ld\r\n\r\n",
                         cfg.content_type ? cfg.content_type : "application/octet-stream",
                         (long long)s->wall.tv_sec, s->wall.tv_nsec);
        if (wd_write_all(s->fd, head, (size_t)n) < 0)
            return s->failed = -1;
        s->started = 1;
    }
    char sz[32];
    int n = snprintf(sz, sizeof sz, "%zx\r\n", len);
    if (wd_write_all(s->fd, sz, (size_t)n) < 0 || wd_write_all(s->fd, data, len) < 0 ||
        wd_write_all(s->fd, "\r\n", 2) < 0)
        return s->failed = -1;
    return 0;
}

struct collect {
    char *p;
    size_t len, cap;
};

static int collect_out(void *opaque, const char *data, size_t len)
{
    struct collect *c = opaque;
    if (c->len + len > WD_MAX_BODY)
        return -1;
    if (c->len + len > c->cap) {
        size_t cap = (c->len + len) * 2;
        char *np = realloc(c->p, cap);
        if (!np)
            return -1;
        c->p = np;
        c->cap = cap;
    }
    memcpy(c->p + c->len, data, len);
    c->len += len;
    return 0;
}

static void serve_fork(int fd, const struct wd_request *r)
{
    double t0 = now_s();
    char **argv = build_argv(r), **env = build_env(r);
    struct wd_proc_result res;
    char extra[256], msg[512];
    if (!argv || !env) {
        wd_respond(fd, 500, NULL, NULL, "out of memory\n", 14);
        goto out;
    }
    if (cfg.mode == MODE_STREAMING) {
        struct stream_ctx s = {.fd = fd, .t0 = t0};
        clock_gettime(CLOCK_REALTIME, &s.wall);
        wd_run_process(argv, env, r->body, r->body_len, stream_out, &s, cfg.exec_timeout_ms, 1,
                       &res);
        if (res.spawn_error) {
            int n = snprintf(msg, sizeof msg, "cannot start %s: %s\n", argv[0],
                             strerror(res.spawn_error));
            wd_respond(fd, 500, NULL, NULL, msg, (size_t)n);
        } else if (!s.started) {
            /* Nothing written yet: the status can still say what happened. */
            snprintf(extra, sizeof extra, "X-Duration-Seconds: %.6f\r\n", now_s() - t0);
            if (res.timed_out) {
                int n = snprintf(msg, sizeof msg, "Function timed out after %.3fs\n",
                                 (double)cfg.exec_timeout_ms / 1e3);
                wd_respond(fd, 504, NULL, extra, msg, (size_t)n);
            } else if (res.exit_status != 0) {
                int n = snprintf(msg, sizeof msg, "exit status %d\n", res.exit_status);
                wd_respond(fd, 500, NULL, extra, msg, (size_t)n);
            } else {
                wd_respond(fd, 200,
                           cfg.content_type ? cfg.content_type : "application/octet-stream", extra,
                           "", 0);
            }
        } else if (!s.failed && !res.timed_out) {
            /* Chunked: the duration goes in a trailer-less final chunk; clients saw 200 already. */
            wd_write_all(fd, "0\r\n\r\n", 5);
        }
        /* timed out mid-stream: close without the last chunk so the client sees a broken body */
        if (res.timed_out)
            fprintf(stderr, "funk-watchdog: %s %s: exec timeout (%.3fs), process killed\n",
                    r->method, r->path, (double)cfg.exec_timeout_ms / 1e3);
    } else {
        struct collect c = {0};
        wd_run_process(argv, env, r->body, r->body_len, collect_out, &c, cfg.exec_timeout_ms, 1,
                       &res);
        snprintf(extra, sizeof extra, "X-Duration-Seconds: %.6f\r\n", now_s() - t0);
        if (res.spawn_error) {
            int n = snprintf(msg, sizeof msg, "cannot start %s: %s\n", argv[0],
                             strerror(res.spawn_error));
            wd_respond(fd, 500, NULL, extra, msg, (size_t)n);
        } else if (res.timed_out) {
            int n = snprintf(msg, sizeof msg, "Function timed out after %.3fs\n",
                             (double)cfg.exec_timeout_ms / 1e3);
            wd_respond(fd, 504, NULL, extra, msg, (size_t)n);
            fprintf(stderr, "funk-watchdog: %s %s: exec timeout (%.3fs), process killed\n",
                    r->method, r->path, (double)cfg.exec_timeout_ms / 1e3);
        } else if (res.sink_failed) {
            int n = snprintf(msg, sizeof msg, "function output over %u MiB: process killed\n",
                             WD_MAX_BODY >> 20);
            wd_respond(fd, 500, NULL, extra, msg, (size_t)n);
        } else if (res.exit_status != 0) {
            /* of-watchdog answers 500 with the error; stderr says why when there is any */
            int n = snprintf(msg, sizeof msg, "exit status %d\n%.400s", res.exit_status,
                             res.err ? res.err : "");
            wd_respond(fd, 500, NULL, extra, msg, (size_t)n);
        } else {
            wd_respond(fd, 200, cfg.content_type ? cfg.content_type : "application/octet-stream",
                       extra, c.p, c.len);
        }
        free(c.p);
    }
    free(res.err);
out:
    free_strv(argv);
    free_strv(env);
}

/* ---- http mode: proxy to the long-running upstream ---------------------------------------- */

static int upstream_connect(int *fd_out)
{
    char port[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    snprintf(port, sizeof port, "%d", cfg.upstream_port);
    if (getaddrinfo(cfg.upstream_host, port, &hints, &ai) != 0)
        return -EHOSTUNREACH;
    int rc = -ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            *fd_out = fd;
            rc = 0;
            break;
        }
        rc = -errno;
        close(fd);
    }
    freeaddrinfo(ai);
    return rc;
}

static const char *const hop_by_hop[] = {"Connection",        "Keep-Alive",    "Proxy-Connection",
                                         "Transfer-Encoding", "Upgrade",       "TE",
                                         "Trailer",           "Content-Length"};

static int is_hop(const char *name)
{
    for (size_t i = 0; i < sizeof hop_by_hop / sizeof hop_by_hop[0]; i++)
        if (strcasecmp(name, hop_by_hop[i]) == 0)
            return 1;
    return 0;
}

/* Writes all of p to the upstream before the deadline (seconds, now_s clock; 0 = none): returns
 * 0, -1 on an error, -ETIMEDOUT when the upstream did not take it in time (it stopped reading). */
static int upstream_write(int up, const char *p, size_t n, double deadline)
{
    while (n) {
        if (deadline) {
            double left = deadline - now_s();
            struct pollfd pf = {.fd = up, .events = POLLOUT};
            int pr = left > 0 ? poll(&pf, 1, (int)(left * 1000) + 1) : 0;
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr == 0)
                return -ETIMEDOUT;
        }
        ssize_t w = send(up, p, n, MSG_NOSIGNAL | (deadline ? MSG_DONTWAIT : 0));
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void serve_http(int fd, const struct wd_request *r)
{
    double t0 = now_s();
    char extra[256];
    int up = -1;
    int rc = upstream_connect(&up);
    if (rc < 0) {
        char msg[512];
        snprintf(extra, sizeof extra,
                 "X-OpenFaaS-Internal: of-watchdog\r\nX-Duration-Seconds: %.6f\r\n", now_s() - t0);
        int n = snprintf(msg, sizeof msg, "Can't reach service for: %s:%d (%s)\n",
                         cfg.upstream_host, cfg.upstream_port, strerror(-rc));
        wd_respond(fd, 502, NULL, extra, msg, (size_t)n);
        return;
    }
    /* Request: same method/target/headers, our own framing (Content-Length, Connection: close). */
    size_t cap = 4096;
    for (size_t i = 0; i < r->nh; i++)
        cap += strlen(r->h[i].name) + strlen(r->h[i].value) + 4;
    char *head = malloc(cap + strlen(r->target));
    size_t hl = 0;
    if (!head) {
        close(up);
        wd_respond(fd, 500, NULL, NULL, "out of memory\n", 14);
        return;
    }
    hl += (size_t)sprintf(head + hl, "%s %s HTTP/1.1\r\n", r->method, r->target);
    for (size_t i = 0; i < r->nh; i++)
        if (!is_hop(r->h[i].name))
            hl += (size_t)sprintf(head + hl, "%s: %s\r\n", r->h[i].name, r->h[i].value);
    hl +=
        (size_t)sprintf(head + hl, "Content-Length: %zu\r\nConnection: close\r\n\r\n", r->body_len);
    /* exec_timeout covers the whole exchange: an upstream that stops reading the request gets
     * the same 504 as one that does not answer. */
    double deadline = cfg.exec_timeout_ms ? t0 + (double)cfg.exec_timeout_ms / 1e3 : 0;
    int wr = upstream_write(up, head, hl, deadline);
    if (wr == 0 && r->body_len)
        wr = upstream_write(up, r->body, r->body_len, deadline);
    int ok = wr == 0, timed_out = wr == -ETIMEDOUT;
    free(head);

    /* Response: read it whole within exec_timeout, then answer with our X-Duration-Seconds. */
    struct collect c = {0};
    char buf[65536];
    while (ok) {
        int wait = -1;
        if (deadline) {
            double left = deadline - now_s();
            if (left <= 0) {
                timed_out = 1;
                break;
            }
            wait = (int)(left * 1000) + 1;
        }
        struct pollfd p = {.fd = up, .events = POLLIN};
        int n = poll(&p, 1, wait);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        ssize_t got = read(up, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (collect_out(&c, buf, (size_t)got) < 0) {
            ok = 0;
            break;
        }
    }
    close(up);
    snprintf(extra, sizeof extra,
             "X-OpenFaaS-Internal: of-watchdog\r\nX-Duration-Seconds: %.6f\r\n", now_s() - t0);
    char *eoh = c.p ? memmem(c.p, c.len, "\r\n\r\n", 4) : NULL;
    if (timed_out) {
        wd_respond(fd, 504, NULL, extra, "Function timed out\n", 19);
    } else if (!ok || !eoh || c.len < 12 || strncmp(c.p, "HTTP/1.", 7) != 0) {
        wd_respond(fd, c.len == 0 ? 502 : 500, NULL, extra,
                   "Upstream error: no valid HTTP response\n", 39);
    } else {
        /* Relay status and end-to-end headers; the body is re-framed (de-chunked if needed). */
        unsigned status = (unsigned)atoi(c.p + 9);
        *eoh = '\0';
        char *body = eoh + 4;
        size_t blen = c.len - (size_t)(body - c.p);
        int chunked = 0;
        /* A bare-LF header line comes out one byte longer (CRLF): room for twice the input. */
        char *hdrs = malloc(2 * strlen(c.p) + 256), *save = NULL;
        size_t hn = 0;
        if (hdrs) {
            hn += (size_t)sprintf(hdrs, "HTTP/1.1 %u %s\r\n", status, wd_reason(status));
            for (char *l = strtok_r(strchr(c.p, '\n') ? strchr(c.p, '\n') + 1 : c.p + c.len, "\r\n",
                                    &save);
                 l; l = strtok_r(NULL, "\r\n", &save)) {
                char *colon = strchr(l, ':');
                if (!colon)
                    continue;
                *colon = '\0';
                if (strcasecmp(l, "Transfer-Encoding") == 0 && strcasestr(colon + 1, "chunked"))
                    chunked = 1;
                if (!is_hop(l))
                    hn += (size_t)sprintf(hdrs + hn, "%s:%s\r\n", l, colon + 1);
            }
        }
        if (chunked) {
            /* de-chunk in place */
            char *in = body, *end = body + blen, *o = body;
            while (in < end) {
                char *e;
                unsigned long n = strtoul(in, &e, 16);
                char *nl = memchr(in, '\n', (size_t)(end - in));
                if (!nl || n == 0 || (size_t)(end - nl - 1) < n)
                    break;
                memmove(o, nl + 1, n);
                o += n;
                in = nl + 1 + n + 2;
            }
            blen = (size_t)(o - body);
        }
        char tail[400];
        int tl = snprintf(tail, sizeof tail, "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                          blen, extra);
        if (hdrs && wd_write_all(fd, hdrs, hn) == 0 && wd_write_all(fd, tail, (size_t)tl) == 0 &&
            blen)
            wd_write_all(fd, body, blen);
        free(hdrs);
    }
    free(c.p);
}

static pid_t start_upstream(void)
{
    pid_t pid;
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawnp(&pid, cfg.argv[0], NULL, &at, cfg.argv, environ);
    posix_spawnattr_destroy(&at);
    if (rc) {
        fprintf(stderr, "funk-watchdog: cannot start '%s': %s\n", cfg.argv[0], strerror(rc));
        return -1;
    }
    fprintf(stderr, "funk-watchdog: started upstream %s (pid %d), proxying to http://%s:%d\n",
            cfg.argv[0], (int)pid, cfg.upstream_host, cfg.upstream_port);
    return pid;
}

/* ---- connections -------------------------------------------------------------------------- */

static void *conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct timeval wt = {.tv_sec = (time_t)(cfg.write_timeout_ms / 1000),
                         .tv_usec = (suseconds_t)(cfg.write_timeout_ms % 1000) * 1000};
    if (cfg.write_timeout_ms)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof wt);
    struct wd_request r;
    int rc = wd_read_request(fd, &r, cfg.read_timeout_ms);
    if (rc < 0)
        goto out;
    if (rc > 0) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "%s\n", wd_reason((unsigned)rc));
        wd_respond(fd, (unsigned)rc, NULL, NULL, msg, (size_t)n);
        goto out;
    }
    if (strcmp(r.path, "/_/health") == 0 || strcmp(r.path, "/_/ready") == 0) {
        int ready = strcmp(r.path, "/_/ready") == 0;
        if (g_draining || access(cfg.lockfile, F_OK) != 0)
            wd_respond(fd, 503, NULL, NULL, "Service Unavailable\n", 20);
        else if (ready && cfg.max_inflight && atomic_load(&g_inflight) >= cfg.max_inflight)
            wd_respond(fd, 429, NULL, NULL, "Too Many Requests\n", 18);
        else
            wd_respond(fd, 200, NULL, NULL, "OK", 2);
        goto out;
    }
    long now = atomic_fetch_add(&g_inflight, 1) + 1;
    if (cfg.max_inflight && now > cfg.max_inflight) {
        atomic_fetch_sub(&g_inflight, 1);
        char msg[128];
        int n = snprintf(msg, sizeof msg,
                         "Concurrent request limit exceeded. Max concurrent requests: %ld\n",
                         cfg.max_inflight);
        wd_respond(fd, 429, NULL, NULL, msg, (size_t)n);
        goto out;
    }
    if (cfg.mode == MODE_HTTP)
        serve_http(fd, &r);
    else
        serve_fork(fd, &r);
    atomic_fetch_sub(&g_inflight, 1);
out:
    wd_request_free(&r);
    shutdown(fd, SHUT_WR);
    close(fd);
    return NULL;
}

static volatile sig_atomic_t g_term;

static void on_term(int sig)
{
    (void)sig;
    g_term = 1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (config() < 0)
        return 2;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)cfg.port),
                             .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 512) < 0) {
        fprintf(stderr, "funk-watchdog: cannot listen on port %d: %s\n", cfg.port, strerror(errno));
        return 1;
    }
    /* port=0: the kernel picked a free port; the start-up line below names it. */
    socklen_t salen = sizeof sa;
    if (getsockname(ls, (struct sockaddr *)&sa, &salen) == 0)
        cfg.port = ntohs(sa.sin_port);
    if (cfg.mode == MODE_HTTP && (g_upstream_pid = start_upstream()) < 0)
        return 1;
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_term; /* no SA_RESTART: accept returns EINTR */
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    int lf = open(cfg.lockfile, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (lf < 0) {
        fprintf(stderr, "funk-watchdog: cannot write the lock file %s: %s\n", cfg.lockfile,
                strerror(errno));
        return 1;
    }
    close(lf);
    static const char *names[] = {"streaming", "serializing", "http"};
    fprintf(stderr,
            "funk-watchdog: listening on :%d, mode %s, fprocess '%s'%s, exec_timeout %.3fs, "
            "max_inflight %ld\n",
            cfg.port, names[cfg.mode],
            getenv("fprocess") ? getenv("fprocess") : getenv("function_process"),
            cfg.is_monitor ? " (a unikernel per request)" : "", (double)cfg.exec_timeout_ms / 1e3,
            cfg.max_inflight);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    while (!g_term) {
        int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                struct timespec d = {0, 10000000};
                nanosleep(&d, NULL);
                continue;
            }
            break;
        }
        int nd = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd);
        pthread_t t;
        if (pthread_create(&t, &attr, conn_thread, (void *)(intptr_t)fd) != 0) {
            wd_respond(fd, 503, NULL, NULL, "Service Unavailable\n", 20);
            close(fd);
        }
    }
    /* SIGTERM: health turns 503 (lock file gone), in-flight requests finish within write_timeout.
     */
    atomic_store(&g_draining, 1);
    unlink(cfg.lockfile);
    close(ls);
    fprintf(stderr, "funk-watchdog: SIGTERM: draining %ld request(s)\n", atomic_load(&g_inflight));
    double end = now_s() + (double)(cfg.write_timeout_ms ? cfg.write_timeout_ms : 10000) / 1e3;
    while (atomic_load(&g_inflight) > 0 && now_s() < end) {
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
    }
    if (g_upstream_pid > 0) {
        kill(-g_upstream_pid, SIGTERM);
        waitpid(g_upstream_pid, NULL, 0);
    }
    return 0;
}
