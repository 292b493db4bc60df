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

#define EXEC_OUT_MAX (64u << 20)

extern char **environ;

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
    int in[2] = {-1, -1}, outp[2] = {-1, -1};
    char **env = exec_env(fn, c);
    char *out = NULL;
    size_t olen = 0, ocap = 0;
    pid_t pid = -1;
    if (!env || pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) {
        c->status = 503;
        snprintf(c->reason, sizeof c->reason, "cannot start the function: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    char *argv[] = {fn->exec_path, NULL};
    int rc = posix_spawn(&pid, fn->exec_path, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(outp[1]);
    in[0] = outp[1] = -1;
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
    int timed_out = 0;
    while (outp[0] >= 0) {
        struct pollfd p[2] = {{outp[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
        int ms = (int)((deadline - gw_now()) * 1000) + 1;
        if (ms <= 0 || poll(p, in[1] >= 0 ? 2 : 1, ms) == 0) {
            timed_out = 1;
            break;
        }
        if (in[1] >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
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
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (olen + 65536 + 1 > ocap) {
                size_t nc = ocap ? ocap * 2 : 65536 * 2;
                char *nb = nc <= EXEC_OUT_MAX ? realloc(out, nc) : NULL;
                if (!nb)
                    break;
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
    if (timed_out)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out) {
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
    }
}
