/* SPDX-License-Identifier: Apache-2.0 */
/* funkd "exec" invocation: a native executable forked per request, CGI style (the baseline that
 * of-watchdog's serializing mode represents; no isolation beyond a process). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw.h"

extern char **environ;

/* The child's stderr: split into lines (at most GW_LOG_LINE_MAX bytes) for the function's log,
 * where gw_logs_add escapes them; never onto funkd's own stderr raw. */
struct err_lines {
    const char *fn_key;
    char inst[GW_NAME_MAX + 24];
    char line[GW_LOG_LINE_MAX];
    size_t len;
};

static void err_add(struct err_lines *e, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n' || e->len == sizeof e->line) {
            gw_logs_add(e->fn_key, e->inst, e->line, e->len);
            e->len = 0;
            if (data[i] == '\n')
                continue;
        }
        e->line[e->len++] = data[i];
    }
}

static char *env_kv(const char *k, const char *v)
{
    size_t l = strlen(k) + strlen(v) + 2;
    char *s = malloc(l);
    if (s)
        snprintf(s, l, "%s=%s", k, v);
    return s;
}

/* CGI variables from the request, then the function's environment. */
static char **exec_env(struct gw_function *fn, const struct gw_call *c)
{
    size_t nh = 0, nf = 0;
    for (size_t i = 0; i < c->headers_len; i++)
        nh += c->headers[i] == '\n';
    while (fn->env && fn->env[nf])
        nf++;
    char **env = calloc(nh + nf + 12, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    char num[32];
    env[k++] = env_kv("REQUEST_METHOD", c->method);
    env[k++] = env_kv("PATH_INFO", c->path);
    env[k++] = env_kv("QUERY_STRING", c->query);
    snprintf(num, sizeof num, "%zu", c->body_len);
    env[k++] = env_kv("CONTENT_LENGTH", num);
    env[k++] = strdup("FUNK_FN_CGI=1");
    env[k++] = strdup("PATH=/usr/local/bin:/usr/bin:/bin");
    const char *p = c->headers, *end = c->headers + c->headers_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);
        const char *colon = memchr(p, ':', n);
        if (colon && colon > p) {
            size_t kl = (size_t)(colon - p);
            const char *v = colon + 1;
            while (v < p + n && *v == ' ')
                v++;
            int ct = kl == 12 && strncasecmp(p, "Content-Type", 12) == 0;
            char *s = malloc(kl + (size_t)(p + n - v) + 8);
            if (s) {
                size_t o = 0;
                if (!ct) {
                    memcpy(s, "HTTP_", 5);
                    o = 5;
                }
                for (size_t i = 0; i < kl; i++) {
                    char ch = p[i] == '-' ? '_' : p[i];
                    s[o++] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
                }
                s[o++] = '=';
                memcpy(s + o, v, (size_t)(p + n - v));
                o += (size_t)(p + n - v);
                s[o] = '\0';
                env[k++] = s;
            }
        }
        p += n + 1;
    }
    for (size_t i = 0; i < nf; i++)
        env[k++] = strdup(fn->env[i]);
    return env;
}

/* Splits "Status: N\r\nName: v\r\n\r\nbody" into the call's response. */
static void parse_cgi(struct gw_call *c, char *out, size_t len)
{
    char *sep = memmem(out, len, "\r\n\r\n", 4);
    if (!sep) {
        c->status = 502;
        snprintf(c->reason, sizeof c->reason, "function wrote no CGI header block");
        free(out);
        return;
    }
    size_t hl = (size_t)(sep - out);
    unsigned status = 200;
    char *hdr = malloc(hl + 2), *o = hdr;
    for (char *p = out; hdr && p < sep;) {
        char *eol = memmem(p, (size_t)(sep - p), "\r\n", 2);
        size_t n = (size_t)((eol ? eol : sep) - p);
        if (n > 7 && strncasecmp(p, "Status:", 7) == 0) {
            status = (unsigned)strtoul(p + 7, NULL, 10);
        } else if (n) {
            memcpy(o, p, n);
            o += n;
            *o++ = '\n';
        }
        p += n + 2;
    }
    if (hdr)
        *o = '\0';
    c->status = status >= 100 && status <= 599 ? status : 502;
    c->resp_headers = hdr;
    c->resp_headers_len = hdr ? (size_t)(o - hdr) : 0;
    size_t bl = len - hl - 4;
    memmove(out, sep + 4, bl);
    out[bl] = '\0';
    c->resp_body = out;
    c->resp_body_len = bl;
}

void gw_exec_invoke(struct gw_function *fn, struct gw_call *c)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    struct err_lines el = {.fn_key = fn->key};
    snprintf(el.inst, sizeof el.inst, "%s-%llu", fn->name, (unsigned long long)c->id);
    char **env = exec_env(fn, c);
    char *out = NULL;
    size_t olen = 0, ocap = 0;
    pid_t pid = -1;
    if (!env || pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0 ||
        pipe2(errp, O_CLOEXEC) != 0) {
        c->status = 503;
        snprintf(c->reason, sizeof c->reason, "cannot start the function: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    char *argv[] = {fn->exec_path, NULL};
    int rc = posix_spawn(&pid, fn->exec_path, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(outp[1]);
    close(errp[1]);
    in[0] = outp[1] = errp[1] = -1;
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    if (rc != 0) {
        pid = -1;
        c->status = 502;
        snprintf(c->reason, sizeof c->reason, "cannot start the function: %s", strerror(rc));
        goto out;
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    size_t woff = 0;
    if (c->body_len == 0) {
        close(in[1]);
        in[1] = -1;
    }
    double deadline = gw_now() + fn->timeout;
    int timed_out = 0, over = 0;
    /* CGI output: headers and body; both caps are at most 2^40, so the sum cannot wrap */
    size_t out_max = gw_cfg.max_response + GW_RESP_HEADERS_MAX + 4;
    /* stdout's end (and the child's exit) ends the call; stderr is read alongside and drained
     * once the child has exited, so a descendant holding it open cannot hold the call */
    while (outp[0] >= 0) {
        /* a closed pipe's slot has fd -1, which poll skips */
        struct pollfd p[3] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
        int ms = (int)((deadline - gw_now()) * 1000) + 1;
        if (ms <= 0 || poll(p, 3, ms) == 0) {
            timed_out = 1;
            break;
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            char eb[4096];
            ssize_t r = read(errp[0], eb, sizeof eb);
            if (r > 0)
                err_add(&el, eb, (size_t)r);
            else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(errp[0]);
                errp[0] = -1;
            }
        }
        if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in[1], (const char *)c->body + woff, c->body_len - woff);
            if (w > 0)
                woff += (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                woff = c->body_len; /* the child stopped reading */
            if (woff == c->body_len) {
                close(in[1]);
                in[1] = -1;
            }
        }
        if (outp[0] >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (olen > out_max) {
                /* over the cap: end the child, which could otherwise block on a full pipe while
                 * we wait for it */
                over = 1;
                break;
            }
            if (olen + 65536 + 1 > ocap) {
                size_t nc = ocap ? ocap * 2 : 65536 * 2;
                if (nc > out_max + 65536 + 2)
                    nc = out_max + 65536 + 2; /* room for out_max + 1 bytes and a full read */
                char *nb = realloc(out, nc);
                if (!nb) {
                    over = 1;
                    break;
                }
                out = nb;
                ocap = nc;
            }
            ssize_t r = read(outp[0], out + olen, ocap - olen - 1);
            if (r > 0)
                olen += (size_t)r;
            else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(outp[0]);
                outp[0] = -1;
            }
        }
    }
    if (timed_out || over)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    for (int k = 0; errp[0] >= 0 && k < 64; k++) { /* what it wrote before it ended */
        char eb[4096];
        ssize_t r = read(errp[0], eb, sizeof eb);
        if (r <= 0)
            break;
        err_add(&el, eb, (size_t)r);
    }
    if (el.len)
        gw_logs_add(el.fn_key, el.inst, el.line, el.len);
    if (over) {
        c->status = 502;
        snprintf(c->reason, sizeof c->reason,
                 "function response over the limit of %zu bytes (funkd --max-response)",
                 gw_cfg.max_response);
    } else if (timed_out) {
        c->status = 504;
        snprintf(c->reason, sizeof c->reason, "function timed out");
    } else if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && olen == 0)) {
        c->status = 502;
        snprintf(c->reason, sizeof c->reason, "function %s %d without a response",
                 WIFEXITED(st) ? "exited with status" : "killed by signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    } else {
        if (!out)
            out = calloc(1, 1);
        parse_cgi(c, out, olen);
        out = NULL;
        if (c->resp_body_len > gw_cfg.max_response || c->resp_headers_len > GW_RESP_HEADERS_MAX) {
            free(c->resp_body);
            free(c->resp_headers);
            c->resp_body = c->resp_headers = NULL;
            c->resp_body_len = c->resp_headers_len = 0;
            c->status = 502;
            snprintf(c->reason, sizeof c->reason,
                     "function response over the limit of %zu bytes of body or %u of headers "
                     "(funkd --max-response)",
                     gw_cfg.max_response, GW_RESP_HEADERS_MAX);
        }
    }
out:
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
    free(out);
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
}
