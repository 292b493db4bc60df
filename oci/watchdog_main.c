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

#include "stdio_env.h"
#include "watchdog.h"

extern char **environ;

enum wd_mode { MODE_STREAMING, MODE_SERIALIZING, MODE_HTTP };

static struct {
    enum wd_mode mode;
    char **argv; /* fprocess split on spaces */
    int argc;
    int is_monitor; /* argv[0] is funk-monitor: requests go in through --fn-input=- */
    uint64_t exec_timeout_ms, read_timeout_ms, write_timeout_ms, idle_timeout_ms;
    uint64_t upstream_idle_ms; /* a pooled upstream connection idle longer is not reused */
    long max_inflight;
    int port;
    char upstream_host[256];
    int upstream_port;
    const char *content_type;
    int prefix_logs;
    char lockfile[4096];
} cfg;

static const struct wd_host *g_host;
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
    /* An idle keep-alive connection: Go's http.Server (of-watchdog) waits read_timeout when no
     * IdleTimeout is set; idle_timeout (ours) sets it apart. */
    if (env_duration("idle_timeout", cfg.read_timeout_ms, &cfg.idle_timeout_ms) < 0 ||
        env_duration("upstream_idle_timeout", 500, &cfg.upstream_idle_ms) < 0)
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

/* Http_<Header> variables and the request's (stdio_env.h, as funkd gives them), then the
 * watchdog's own environment. */
static char **build_env(const struct wd_request *r)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + r->nh + STDIO_ENV_REQUEST_MAX + 2, sizeof *env);
    size_t k = 0;
    if (!env)
        return NULL;
    for (size_t i = 0; i < r->nh; i++) {
        char *s = stdio_env_header(r->h[i].name, strlen(r->h[i].name), r->h[i].value,
                                   strlen(r->h[i].value));
        if (s)
            env[k++] = s;
    }
    k += stdio_env_request(env + k, r->method, r->path, r->query, r->body_len);
    for (size_t i = 0; i < n; i++)
        if ((env[k] = strdup(environ[i])))
            k++;
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
    int chunked; /* HTTP/1.1: chunks; HTTP/1.0: the body ends with the connection */
    int keep;
};

static int stream_out(void *opaque, const char *data, size_t len)
{
    struct stream_ctx *s = opaque;
    if (!s->started) {
        char head[512];
        int n =
            snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%sConnection: %s\r\n"
                     "X-Start-Time: %lld%09ld\r\n\r\n",
                     cfg.content_type ? cfg.content_type : "application/octet-stream",
                     s->chunked ? "Transfer-Encoding: chunked\r\n" : "",
                     s->keep ? "keep-alive" : "close", (long long)s->wall.tv_sec, s->wall.tv_nsec);
        if (wd_write_all(s->fd, head, (size_t)n) < 0)
            return s->failed = -1;
        s->started = 1;
    }
    if (!s->chunked)
        return wd_write_all(s->fd, data, len) < 0 ? (s->failed = -1) : 0;
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

static void serve_fork(int fd, int *keep, const struct wd_request *r)
{
    double t0 = now_s();
    char **argv = build_argv(r), **env = build_env(r);
    struct wd_proc_result res;
    char extra[256], msg[512];
    if (!argv || !env) {
        wd_respond(fd, *keep, 500, NULL, NULL, "out of memory\n", 14);
        goto out;
    }
    if (cfg.mode == MODE_STREAMING) {
        struct stream_ctx s = {
            .fd = fd, .t0 = t0, .chunked = !r->http10, .keep = *keep && !r->http10};
        clock_gettime(CLOCK_REALTIME, &s.wall);
        g_host->run(argv, env, r->body, r->body_len, stream_out, &s, cfg.exec_timeout_ms, 1, &res);
        if (res.spawn_error) {
            int n = snprintf(msg, sizeof msg, "cannot start %s: %s\n", argv[0],
                             strerror(res.spawn_error));
            wd_respond(fd, *keep, 500, NULL, NULL, msg, (size_t)n);
        } else if (!s.started) {
            /* Nothing written yet: the status can still say what happened. */
            snprintf(extra, sizeof extra, "X-Duration-Seconds: %.6f\r\n", now_s() - t0);
            if (res.timed_out) {
                int n = snprintf(msg, sizeof msg, "Function timed out after %.3fs\n",
                                 (double)cfg.exec_timeout_ms / 1e3);
                wd_respond(fd, *keep, 504, NULL, extra, msg, (size_t)n);
            } else if (res.exit_status != 0) {
                int n = snprintf(msg, sizeof msg, "exit status %d\n", res.exit_status);
                wd_respond(fd, *keep, 500, NULL, extra, msg, (size_t)n);
            } else {
                wd_respond(fd, *keep, 200,
                           cfg.content_type ? cfg.content_type : "application/octet-stream", extra,
                           "", 0);
            }
        } else if (!s.failed && !res.timed_out && s.chunked) {
            /* Chunked: the duration goes in a trailer-less final chunk; clients saw 200 already. */
            if (wd_write_all(fd, "0\r\n\r\n", 5) < 0)
                *keep = 0;
        }
        /* A stream cut short (timeout, client gone, output refused) or delimited by the close
         * (HTTP/1.0) ends the connection: the client must see the body end there. */
        if (s.started && (s.failed || res.timed_out || res.sink_failed || !s.chunked))
            *keep = 0;
        /* timed out mid-stream: close without the last chunk so the client sees a broken body */
        if (res.timed_out)
            fprintf(stderr, "funk-watchdog: %s %s: exec timeout (%.3fs), process killed\n",
                    r->method, r->path, (double)cfg.exec_timeout_ms / 1e3);
    } else {
        struct collect c = {0};
        g_host->run(argv, env, r->body, r->body_len, collect_out, &c, cfg.exec_timeout_ms, 1, &res);
        snprintf(extra, sizeof extra, "X-Duration-Seconds: %.6f\r\n", now_s() - t0);
        if (res.spawn_error) {
            int n = snprintf(msg, sizeof msg, "cannot start %s: %s\n", argv[0],
                             strerror(res.spawn_error));
            wd_respond(fd, *keep, 500, NULL, extra, msg, (size_t)n);
        } else if (res.timed_out) {
            int n = snprintf(msg, sizeof msg, "Function timed out after %.3fs\n",
                             (double)cfg.exec_timeout_ms / 1e3);
            wd_respond(fd, *keep, 504, NULL, extra, msg, (size_t)n);
            fprintf(stderr, "funk-watchdog: %s %s: exec timeout (%.3fs), process killed\n",
                    r->method, r->path, (double)cfg.exec_timeout_ms / 1e3);
        } else if (res.sink_failed) {
            int n = snprintf(msg, sizeof msg, "function output over %u MiB: process killed\n",
                             WD_MAX_BODY >> 20);
            wd_respond(fd, *keep, 500, NULL, extra, msg, (size_t)n);
        } else if (res.exit_status != 0) {
            /* of-watchdog answers 500 with the error; stderr says why when there is any */
            int n = snprintf(msg, sizeof msg, "exit status %d\n%.400s", res.exit_status,
                             res.err ? res.err : "");
            wd_respond(fd, *keep, 500, NULL, extra, msg, (size_t)n);
        } else {
            wd_respond(fd, *keep, 200,
                       cfg.content_type ? cfg.content_type : "application/octet-stream", extra, c.p,
                       c.len);
        }
        free(c.p);
    }
    free(res.err);
out:
    free_strv(argv);
    free_strv(env);
}

/* ---- http mode: proxy to the long-running upstream over pooled connections ---------------- */

/* Idle upstream connections, most recently used last: the next request takes the warmest one.
 * Like of-watchdog's Go transport (MaxIdleConns 100, IdleConnTimeout 500 ms), a connection idle
 * for longer is closed rather than reused: an upstream's own idle timeout then cannot race it. */
#define UP_POOL_MAX 128
static struct {
    pthread_mutex_t mu;
    int fd[UP_POOL_MAX];
    uint64_t since[UP_POOL_MAX];
    int n;
} g_pool = {.mu = PTHREAD_MUTEX_INITIALIZER};
static atomic_long g_up_connects; /* upstream connections opened (logged at exit) */

/* A pooled connection that is still open and quiet, or -1. */
static int pool_take(void)
{
    uint64_t now = wd_mono_ms();
    for (;;) {
        pthread_mutex_lock(&g_pool.mu);
        int fd = -1;
        uint64_t since = 0;
        if (g_pool.n) {
            g_pool.n--;
            fd = g_pool.fd[g_pool.n];
            since = g_pool.since[g_pool.n];
        }
        pthread_mutex_unlock(&g_pool.mu);
        if (fd < 0)
            return -1;
        /* Readable while idle means closed (EOF, RST) or stray bytes: either way not usable. */
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
        if (now - since <= cfg.upstream_idle_ms && poll(&p, 1, 0) == 0)
            return fd;
        close(fd);
    }
}

static void pool_put(int fd)
{
    pthread_mutex_lock(&g_pool.mu);
    if (g_pool.n < UP_POOL_MAX) {
        g_pool.fd[g_pool.n] = fd;
        g_pool.since[g_pool.n] = wd_mono_ms();
        g_pool.n++;
        fd = -1;
    }
    pthread_mutex_unlock(&g_pool.mu);
    if (fd >= 0)
        close(fd);
}

/* Connects within timeout_ms (0 = none), as of-watchdog dials with exec_timeout. */
static int upstream_connect(int *fd_out, uint64_t timeout_ms)
{
    char port[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    snprintf(port, sizeof port, "%d", cfg.upstream_port);
    if (getaddrinfo(cfg.upstream_host, port, &hints, &ai) != 0)
        return -EHOSTUNREACH;
    int rc = -ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int pr;
            while ((pr = poll(&p, 1, timeout_ms ? (int)timeout_ms : -1)) < 0 && errno == EINTR)
                ;
            int err = pr == 0 ? ETIMEDOUT : 0;
            socklen_t el = sizeof err;
            if (pr > 0)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            errno = err;
        } else {
            errno = 0;
        }
        if (errno == 0) {
            int fl = fcntl(fd, F_GETFL), one = 1;
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            *fd_out = fd;
            atomic_fetch_add(&g_up_connects, 1);
            rc = 0;
            break;
        }
        rc = -errno;
        close(fd);
    }
    freeaddrinfo(ai);
    return rc;
}

/* Not forwarded: this hop's framing and persistence are the watchdog's own, and the request body
 * is already whole (no Expect: 100-continue to the upstream). */
static const char *const hop_by_hop[] = {"Connection",        "Keep-Alive",     "Proxy-Connection",
                                         "Transfer-Encoding", "Upgrade",        "TE",
                                         "Trailer",           "Content-Length", "Expect"};

static int is_hop(const char *name)
{
    for (size_t i = 0; i < sizeof hop_by_hop / sizeof hop_by_hop[0]; i++)
        if (strcasecmp(name, hop_by_hop[i]) == 0)
            return 1;
    return 0;
}

/* Writes all of p to the upstream before the deadline (seconds, now_s clock; 0 = none): returns
 * 0, -1 on an error, -ETIMEDOUT when the upstream did not take it in time (it stopped reading).
 * *sent counts the bytes that went out; more: the body follows (one segment for both). */
static int upstream_write(int up, const char *p, size_t n, double deadline, size_t *sent, int more)
{
    while (n) {
        ssize_t w = send(up, p, n, MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            double left = deadline ? deadline - now_s() : 0;
            struct pollfd pf = {.fd = up, .events = POLLOUT};
            int pr = !deadline  ? poll(&pf, 1, -1)
                     : left > 0 ? poll(&pf, 1, (int)(left * 1000) + 1)
                                : 0;
            if (pr == 0)
                return -ETIMEDOUT;
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        *sent += (size_t)w;
    }
    return 0;
}

static int idempotent(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(m, ok[i]) == 0)
            return 1;
    return 0;
}

/* The request head for the upstream: same method/target/end-to-end headers, our framing. */
static char *upstream_head(const struct wd_request *r, size_t *hl_out)
{
    size_t cap = 256 + strlen(r->target) + strlen(r->method);
    for (size_t i = 0; i < r->nh; i++)
        cap += strlen(r->h[i].name) + strlen(r->h[i].value) + 4;
    char *head = malloc(cap);
    if (!head)
        return NULL;
    size_t hl = (size_t)sprintf(head, "%s %s HTTP/1.1\r\n", r->method, r->target);
    for (size_t i = 0; i < r->nh; i++)
        if (!is_hop(r->h[i].name))
            hl += (size_t)sprintf(head + hl, "%s: %s\r\n", r->h[i].name, r->h[i].value);
    hl += (size_t)sprintf(head + hl, "Content-Length: %zu\r\n\r\n", r->body_len);
    *hl_out = hl;
    return head;
}

/* One exchange on one connection: 0 with res filled, or a negative errno; *sent: request bytes
 * that went out. */
static int upstream_exchange(int up, const struct wd_request *r, const char *head, size_t hl,
                             double deadline, struct wd_response *res, size_t *sent)
{
    *sent = 0;
    memset(res, 0, sizeof *res);
    int wr = upstream_write(up, head, hl, deadline, sent, r->body_len > 0);
    if (wr == 0 && r->body_len)
        wr = upstream_write(up, r->body, r->body_len, deadline, sent, 0);
    if (wr == -ETIMEDOUT)
        return -ETIMEDOUT;
    /* A failed write may still leave an answer to read (the upstream answered early and
     * closed): read it either way. */
    struct wd_rbuf b;
    wd_rbuf_init(&b, up);
    b.deadline = deadline ? (uint64_t)(deadline * 1000) : 0;
    int rc = wd_read_response(&b, strcmp(r->method, "HEAD") == 0, res);
    wd_rbuf_free(&b);
    if (rc == 0 && wr < 0)
        res->keep = 0;
    return rc ? rc : 0;
}

static void serve_http(int fd, int *keep, const struct wd_request *r)
{
    double t0 = now_s();
    char extra[256];
    size_t hl;
    char *head = upstream_head(r, &hl);
    if (!head) {
        wd_respond(fd, *keep, 500, NULL, NULL, "out of memory\n", 14);
        return;
    }
    /* exec_timeout covers the whole exchange (connect, request, answer): an upstream that stops
     * reading the request gets the same 504 as one that does not answer. The rbuf deadline is
     * on the monotonic ms clock, now_s() is the same clock in seconds. */
    double deadline = cfg.exec_timeout_ms ? t0 + (double)cfg.exec_timeout_ms / 1e3 : 0;
    struct wd_response res = {0};
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int up = pool_take(), reused = up >= 0;
        if (!reused) {
            rc = upstream_connect(&up, cfg.exec_timeout_ms);
            if (rc < 0) {
                char msg[512];
                snprintf(extra, sizeof extra,
                         "X-OpenFaaS-Internal: of-watchdog\r\nX-Duration-Seconds: %.6f\r\n",
                         now_s() - t0);
                int n = snprintf(msg, sizeof msg, "Can't reach service for: %s:%d (%s)\n",
                                 cfg.upstream_host, cfg.upstream_port, strerror(-rc));
                wd_respond(fd, *keep, rc == -ETIMEDOUT ? 504 : 502, NULL, extra, msg, (size_t)n);
                free(head);
                return;
            }
        }
        size_t sent;
        rc = upstream_exchange(up, r, head, hl, deadline, &res, &sent);
        if (rc == 0 && res.keep)
            pool_put(up);
        else
            close(up);
        /* A kept connection the upstream had closed meanwhile: nothing came back, so nothing was
         * done when nothing went out, or doing it again is harmless (idempotent). Once. */
        if (rc != 0 && rc != -ETIMEDOUT && reused && res.got == 0 &&
            (sent == 0 || idempotent(r->method))) {
            wd_response_free(&res);
            continue;
        }
        break;
    }
    free(head);
    snprintf(extra, sizeof extra,
             "X-OpenFaaS-Internal: of-watchdog\r\nX-Duration-Seconds: %.6f\r\n", now_s() - t0);
    if (rc == -ETIMEDOUT) {
        wd_respond(fd, *keep, 504, NULL, extra, "Function timed out\n", 19);
        fprintf(stderr, "funk-watchdog: %s %s: upstream over exec_timeout (%.3fs)\n", r->method,
                r->path, (double)cfg.exec_timeout_ms / 1e3);
    } else if (rc == -EFBIG) {
        wd_respond(fd, *keep, 500, NULL, extra, "Upstream error: answer over the size caps\n", 42);
    } else if (rc != 0) {
        /* nothing at all: the upstream closed (502, as before); something: not HTTP (500) */
        wd_respond(fd, *keep, res.got == 0 ? 502 : 500, NULL, extra,
                   "Upstream error: no valid HTTP response\n", 39);
    } else {
        /* Relay status and end-to-end headers; the body is re-framed (de-chunked if needed). A
         * bare-LF header line comes out one byte longer (CRLF): room for twice the input. */
        size_t in = strlen(res.head);
        char *hdrs = malloc(2 * in + 512), *save = NULL;
        size_t hn = 0;
        int head_req = strcmp(r->method, "HEAD") == 0;
        if (hdrs) {
            hn += (size_t)sprintf(hdrs, "HTTP/1.1 %u %s\r\n", res.status, wd_reason(res.status));
            for (char *l = strtok_r(res.head, "\r\n", &save); l;
                 l = strtok_r(NULL, "\r\n", &save)) {
                char *colon = strchr(l, ':');
                if (!colon)
                    continue;
                *colon = '\0';
                if (!is_hop(l))
                    hn += (size_t)sprintf(hdrs + hn, "%s:%s\r\n", l, colon + 1);
            }
            /* HEAD: the length the upstream would have sent; otherwise what we send */
            long long cl = head_req ? res.content_length : (long long)res.body_len;
            if (cl >= 0)
                hn += (size_t)sprintf(hdrs + hn, "Content-Length: %lld\r\n", cl);
            hn += (size_t)sprintf(hdrs + hn, "Connection: %s\r\n%s\r\n",
                                  *keep ? "keep-alive" : "close", extra);
        }
        if (!hdrs || wd_write2(fd, hdrs, hn, res.body, head_req ? 0 : res.body_len) < 0)
            *keep = 0;
        free(hdrs);
    }
    wd_response_free(&res);
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
    struct wd_rbuf b;
    wd_rbuf_init(&b, fd);
    /* HTTP/1.1 persistent connection: requests one after the other (pipelined ones wait in b)
     * until the client or an answer that cannot be framed ends it, or it idles. The first
     * request's read_timeout runs from the accept, as before; later ones wait idle_timeout for
     * their first byte and then have read_timeout for the rest. */
    for (int first = 1;; first = 0) {
        struct wd_request r;
        int rc = wd_read_request_buf(&b, &r, first ? 0 : cfg.idle_timeout_ms, cfg.read_timeout_ms);
        if (rc < 0) {
            wd_request_free(&r);
            break;
        }
        if (rc > 0) {
            /* the rest of a bad request cannot be told from the next one: close */
            char msg[64];
            int n = snprintf(msg, sizeof msg, "%s\n", wd_reason((unsigned)rc));
            wd_respond(fd, 0, (unsigned)rc, NULL, NULL, msg, (size_t)n);
            wd_request_free(&r);
            break;
        }
        int keep = r.keep_alive && !atomic_load(&g_draining);
        if (strcmp(r.path, "/_/health") == 0 || strcmp(r.path, "/_/ready") == 0) {
            int ready = strcmp(r.path, "/_/ready") == 0;
            if (g_draining || (g_host->lockfile && access(cfg.lockfile, F_OK) != 0))
                wd_respond(fd, keep, 503, NULL, NULL, "Service Unavailable\n", 20);
            else if (ready && cfg.max_inflight && atomic_load(&g_inflight) >= cfg.max_inflight)
                wd_respond(fd, keep, 429, NULL, NULL, "Too Many Requests\n", 18);
            else
                wd_respond(fd, keep, 200, NULL, NULL, "OK", 2);
        } else {
            long now = atomic_fetch_add(&g_inflight, 1) + 1;
            if (cfg.max_inflight && now > cfg.max_inflight) {
                atomic_fetch_sub(&g_inflight, 1);
                char msg[128];
                int n =
                    snprintf(msg, sizeof msg,
                             "Concurrent request limit exceeded. Max concurrent requests: %ld\n",
                             cfg.max_inflight);
                wd_respond(fd, keep, 429, NULL, NULL, msg, (size_t)n);
            } else {
                if (cfg.mode == MODE_HTTP)
                    serve_http(fd, &keep, &r);
                else
                    serve_fork(fd, &keep, &r);
                atomic_fetch_sub(&g_inflight, 1);
            }
        }
        wd_request_free(&r);
        if (!keep)
            break;
    }
    wd_rbuf_free(&b);
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

static const char usage_text[] =
    "usage: funk-watchdog [-h|--help] [--version]\n"
    "An of-watchdog compatible entrypoint: serves HTTP on $port and runs the function named\n"
    "by $fprocess for each request. Configured, like of-watchdog, by environment variables:\n"
    "  fprocess (or function_process)  the command, split at spaces (required)\n"
    "  mode                   streaming (default: stdin = body, stdout = response),\n"
    "                         serializing (the whole body, then the whole answer) or http\n"
    "                         (fprocess is an HTTP server at upstream_url, kept alive)\n"
    "  port                   listen port (default 8080; 0 picks a free one)\n"
    "  upstream_url           http mode: http://HOST[:PORT] (default http://127.0.0.1:3000)\n"
    "  exec_timeout, read_timeout, write_timeout  durations (10s, 500ms, 2m; default 10s)\n"
    "  idle_timeout           a kept-alive client connection (default read_timeout)\n"
    "  upstream_idle_timeout  an idle upstream connection in the pool (default 500ms)\n"
    "  max_inflight           concurrent requests, 429 above (default 0: no limit)\n"
    "  content_type           Content-Type of answers; prefix_logs=false: raw stderr lines\n"
    "Exit status: 0 after SIGTERM/SIGINT, 1 start-up failed (port, lock file, upstream),\n"
    "64 usage or configuration error.\n";

int wd_main(int argc, char **argv, const struct wd_host *host)
{
    g_host = host;
    signal(SIGPIPE, SIG_IGN);
    /* All configuration is in the environment (of-watchdog's contract); the command line
     * takes only the conventions every funk binary answers (docs/cli.md). */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("funk-watchdog %s\n", FUNK_VERSION);
            return 0;
        }
        fprintf(stderr,
                "funk-watchdog: %s '%s' (configuration is in environment variables)\n"
                "Try 'funk-watchdog --help'.\n",
                argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
        return 64;
    }
    if (config() < 0)
        return 64;
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
    int lf = host->lockfile ? open(cfg.lockfile, O_CREAT | O_WRONLY | O_CLOEXEC, 0644) : -2;
    if (lf == -1) {
        fprintf(stderr, "funk-watchdog: cannot write the lock file %s: %s\n", cfg.lockfile,
                strerror(errno));
        return 1;
    }
    if (lf >= 0)
        close(lf);
    static const char *names[] = {"streaming", "serializing", "http"};
    fprintf(stderr,
            "%s: listening on :%d, mode %s, fprocess '%s'%s, exec_timeout %.3fs, "
            "max_inflight %ld\n",
            host->name, cfg.port, names[cfg.mode],
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
            wd_respond(fd, 0, 503, NULL, NULL, "Service Unavailable\n", 20);
            close(fd);
        }
    }
    /* SIGTERM: health turns 503 (lock file gone), in-flight requests finish within write_timeout.
     */
    atomic_store(&g_draining, 1);
    if (host->lockfile)
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
        fprintf(stderr, "funk-watchdog: %ld upstream connection(s) opened\n",
                atomic_load(&g_up_connects));
    }
    return 0;
}
