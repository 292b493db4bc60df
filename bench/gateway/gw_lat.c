/* SPDX-License-Identifier: Apache-2.0 */
/* funk-bench-http: sequential HTTP/1.1 requests over one keep-alive connection; prints latency
 * min/median/p99 in microseconds of the requests answered 200 and counts the others (a client
 * small enough not to blur sub-millisecond figures). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int connect_to(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Sends one request and reads one response; returns the status or -1. */
static int one(int fd, const char *req, size_t reqlen, char *buf, size_t cap)
{
    if (write(fd, req, reqlen) != (ssize_t)reqlen)
        return -1;
    size_t n = 0;
    long clen = -1;
    char *hend = NULL;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        if (!hend && (hend = strstr(buf, "\r\n\r\n"))) {
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            if (!cl || cl > hend)
                return -1;
            clen = strtol(cl + 17, NULL, 10);
            if (clen < 0 || (size_t)clen >= cap)
                return -1;
        }
        if (hend && n >= (size_t)(hend + 4 - buf) + (size_t)clen)
            break;
        if (n + 1 >= cap)
            return -1;
    }
    return atoi(buf + 9);
}

static void print_stats(double *lat, int n, int errors)
{
    if (n == 0) {
        printf("- - - 0 %d\n", errors);
        return;
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    int p99 = (int)((double)n * 0.99);
    if (p99 >= n)
        p99 = n - 1;
    printf("%.1f %.1f %.1f %d %d\n", lat[0], lat[n / 2], lat[p99], n, errors);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr,
                "usage: funk-bench-http HOST PORT PATH N [BODY_BYTES] [WARMUP] [GAP_US] [RAW_OUT]\n"
                "  prints: min median p99 (us, of the requests answered 200) N_OK ERRORS\n"
                "  GAP_US: pause between requests (sparse arrivals), not counted\n"
                "  RAW_OUT: file the latency of every 200 is appended to, one per line (us)\n"
                "  a failed request (no answer, or a status other than 200) is counted in ERRORS,\n"
                "  left out of the latencies, and the connection is made again; exit 1 if any\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3];
    int port = atoi(argv[2]), n = atoi(argv[4]);
    long blen_l = argc > 5 ? atol(argv[5]) : 64;
    int warm = argc > 6 ? atoi(argv[6]) : 20;
    long gap = argc > 7 ? atol(argv[7]) : 0;
    const char *raw = argc > 8 ? argv[8] : NULL;
    if (n <= 0 || n > 10000000 || port <= 0 || port > 65535 || blen_l < 0 || blen_l > (64l << 20) ||
        warm < 0 || gap < 0 || strlen(path) > 256) {
        fprintf(stderr, "funk-bench-http: bad N, PORT, BODY_BYTES, WARMUP, GAP_US or PATH\n");
        return 2;
    }
    size_t blen = (size_t)blen_l;
    FILE *rawf = NULL;
    if (raw && !(rawf = fopen(raw, "a"))) {
        fprintf(stderr, "funk-bench-http: cannot open %s: %s\n", raw, strerror(errno));
        return 2;
    }
    char *req = malloc(blen + 512);
    size_t cap = blen + (1 << 16);
    char *buf = malloc(cap);
    double *lat = malloc(sizeof(double) * (size_t)n);
    if (!req || !buf || !lat) {
        fprintf(stderr, "funk-bench-http: out of memory\n");
        free(req);
        free(buf);
        free(lat);
        if (rawf)
            fclose(rawf);
        return 1;
    }
    int hl = snprintf(req, 512,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      path, host, blen);
    memset(req + hl, 'x', blen);
    size_t reqlen = (size_t)hl + blen;
    int fd = connect_to(host, port);
    if (fd < 0) {
        fprintf(stderr, "funk-bench-http: cannot connect to %s:%d: %s\n", host, port,
                strerror(errno));
        free(req);
        free(buf);
        free(lat);
        if (rawf)
            fclose(rawf);
        return 1;
    }
    int errors = 0, warm_errors = 0, nok = 0, last_status = 0;
    for (int i = -warm; i < n; i++) {
        double t0 = now_us();
        int st = one(fd, req, reqlen, buf, cap);
        double t1 = now_us();
        if (st != 200) {
            /* failed: not timed, counted; start again on a fresh connection */
            if (i >= 0)
                errors++;
            else
                warm_errors++;
            last_status = st;
            close(fd);
            fd = connect_to(host, port);
            if (fd < 0) {
                fprintf(stderr, "funk-bench-http: cannot reconnect to %s:%d: %s\n", host, port,
                        strerror(errno));
                errors += n - (i < 0 ? 0 : i + 1);
                break;
            }
        } else if (i >= 0) {
            lat[nok++] = t1 - t0;
            if (rawf)
                fprintf(rawf, "%.1f\n", t1 - t0);
        }
        if (gap > 0)
            usleep((useconds_t)gap);
    }
    if (errors || warm_errors)
        fprintf(
            stderr,
            "funk-bench-http: %s: %d of %d requests failed (+%d in warm-up), last status %d%s\n",
            path, errors, n, warm_errors, last_status, last_status < 0 ? " (no answer)" : "");
    print_stats(lat, nok, errors);
    if (fd >= 0)
        close(fd);
    if (rawf && fclose(rawf) != 0)
        errors++;
    free(req);
    free(buf);
    free(lat);
    return errors ? 1 : 0;
}
