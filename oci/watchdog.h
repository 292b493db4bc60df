/* SPDX-License-Identifier: Apache-2.0 */
/* funk-watchdog internals: HTTP request/response helpers and running the function process. */
#ifndef FUNK_OCI_WATCHDOG_H
#define FUNK_OCI_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>

#define WD_MAX_HEADERS 100
#define WD_MAX_HEAD (64 * 1024)
#define WD_MAX_BODY (64u << 20)

struct wd_header {
    char *name;
    char *value;
};

struct wd_request {
    char method[16];
    char *target; /* path?query as sent */
    char *path;
    char *query; /* "" when none */
    struct wd_header h[WD_MAX_HEADERS];
    size_t nh;
    char *body;
    size_t body_len;
    char *raw;      /* storage for the strings above */
    int http10;     /* HTTP/1.0 request line */
    int keep_alive; /* the client lets the connection stay open after the answer */
};

/* A buffered reader over one connection: bytes read past one message stay for the next. */
struct wd_rbuf {
    int fd;
    char *p;
    size_t len, off, cap; /* data is p[off, len); cap: allocated bytes of p */
    uint64_t deadline;    /* monotonic ms for the current message, 0 = none */
    int timed_out;        /* the last failed read was the deadline */
    size_t total;         /* bytes received over the connection */
};

void wd_rbuf_init(struct wd_rbuf *b, int fd);
void wd_rbuf_free(struct wd_rbuf *b);
uint64_t wd_mono_ms(void);

/* Reads the next request from a persistent connection. idle_ms (0 = none): how long to wait for
 * its first byte; no byte by then returns -1 (an idle keep-alive connection, closed quietly).
 * timeout_ms (0 = none): the whole request from its first byte (with idle_ms 0: from now).
 * Returns as wd_read_request. */
int wd_read_request_buf(struct wd_rbuf *b, struct wd_request *r, uint64_t idle_ms,
                        uint64_t timeout_ms);

/* An upstream's answer (http mode), read whole. */
struct wd_response {
    unsigned status;
    int http10;
    char *head; /* header lines after the status line, NUL-terminated, CRLF or LF */
    char *body;
    size_t body_len;
    long long content_length; /* as the upstream said (-1 = none): HEAD answers keep it */
    int keep;                 /* the connection can carry another request */
    size_t got;               /* bytes received, whether or not they made an answer */
};

/* Reads one response from b (whose deadline is set by the caller); head_req: the request was HEAD
 * (no body follows). Skips 1xx answers. Returns 0, -ETIMEDOUT, -ECONNRESET (closed before the
 * end; got says whether anything came), -EPROTO (not HTTP), -EFBIG (over the caps), -ENOMEM. */
int wd_read_response(struct wd_rbuf *b, int head_req, struct wd_response *res);
void wd_response_free(struct wd_response *res);

/* Reads one request from fd, all of it (head and body) within timeout_ms (0 = no limit). Returns
 * 0, or the HTTP status to answer with (400 bad request, 408 timeout, 413 too large, 431 headers
 * too large), or -1 when the peer closed before sending anything. */
int wd_read_request(int fd, struct wd_request *r, uint64_t timeout_ms);
void wd_request_free(struct wd_request *r);
const char *wd_header_get(const struct wd_request *r, const char *name);

/* Writes everything; returns 0 or -1. wd_write2: a then b in one system call where they fit
 * (a head and its body in one segment). */
int wd_write_all(int fd, const void *p, size_t n);
int wd_write2(int fd, const void *a, size_t alen, const void *b, size_t blen);
/* A complete response with Content-Length; keep: the connection stays open (Connection:
 * keep-alive), else Connection: close. extra: "Name: v\r\n" lines. */
int wd_respond(int fd, int keep, unsigned status, const char *ctype, const char *extra,
               const void *body, size_t len);
const char *wd_reason(unsigned status);

/* Output sink of a function process: returns 0 to continue, -1 to stop (client gone, or output
 * over a cap): the process group is then killed. */
typedef int (*wd_output_fn)(void *opaque, const char *data, size_t len);

struct wd_proc_result {
    int exit_status; /* exit code, or 128+signal */
    int timed_out;   /* exec_timeout expired and the process group was killed */
    int spawn_error; /* errno when the process could not start */
    int sink_failed; /* the output sink refused data: the process group was killed */
    char *err;       /* captured stderr (NUL-terminated), may be NULL */
    size_t err_len;
};

/* Runs argv with env, feeds body on stdin, hands stdout to out as it arrives, captures stderr
 * (also copied to ours when echo_stderr). timeout_ms 0 = none. */
int wd_run_process(char *const argv[], char *const env[], const char *body, size_t body_len,
                   wd_output_fn out, void *opaque, uint64_t timeout_ms, int echo_stderr,
                   struct wd_proc_result *res);
typedef int (*wd_run_fn)(char *const argv[], char *const env[], const char *body, size_t body_len,
                         wd_output_fn out, void *opaque, uint64_t timeout_ms, int echo_stderr,
                         struct wd_proc_result *res);

/* The watchdog itself (watchdog_main.c): configuration from the environment, the listener and
 * the connection loop, until SIGTERM. funk-watchdog's main() calls it with wd_run_process;
 * funk-runtime calls it inside a stdio image's container with a runner that starts each request
 * under the Linux personality (runtime_stdio.c). name: the program named in its messages;
 * lockfile: 0 keeps the ready state in memory instead of of-watchdog's $TMPDIR/.lock (a
 * container's rootfs is read-only). Returns the process exit status. */
struct wd_host {
    const char *name;
    wd_run_fn run;
    int lockfile;
};
int wd_main(int argc, char **argv, const struct wd_host *host);

#endif
