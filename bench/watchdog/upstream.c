/* SPDX-License-Identifier: Apache-2.0 */
/* bench/watchdog: a small, fast HTTP/1.1 keep-alive upstream (epoll, a few threads) that answers
 * every request with a short fixed body, so the proxy in front of it is what gets measured.
 *   funk-bench-wd-upstream [THREADS [PORT]]   listens on 127.0.0.1:PORT (default 0: one the
 *   kernel picks) and prints "port N" on stdout */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_CAP 16384

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
                            "\r\nHello, world!";

struct conn {
    int fd;
    size_t len;
    char buf[BUF_CAP];
};

static int g_listen;

/* Handles every whole request in c->buf; returns -1 when the connection must close. */
static int serve(struct conn *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end)
            return c->len == BUF_CAP ? -1 : 0; /* a head over the buffer: not ours to serve */
        size_t head = (size_t)(end - c->buf) + 4, body = 0;
        for (char *l = c->buf; l < end; l++) {
            if ((l == c->buf || l[-1] == '\n') && strncasecmp(l, "Content-Length:", 15) == 0) {
                body = strtoul(l + 15, NULL, 10);
                break;
            }
        }
        if (body > BUF_CAP - head)
            return -1;
        if (c->len < head + body)
            return 0;
        if (send(c->fd, reply, sizeof reply - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof reply - 1))
            return -1;
        memmove(c->buf, c->buf + head + body, c->len - head - body);
        c->len -= head + body;
    }
}

static void *loop(void *arg)
{
    (void)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, g_listen, &ev) < 0) {
        perror("epoll");
        return NULL;
    }
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd = accept4(g_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = calloc(1, sizeof *c);
                struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
                if (!c || (c->fd = fd, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce) < 0)) {
                    close(fd);
                    free(c);
                }
                continue;
            }
            ssize_t r = recv(c->fd, c->buf + c->len, BUF_CAP - c->len, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0 || (c->len += (size_t)r, serve(c) < 0)) {
                close(c->fd); /* also leaves the epoll set */
                free(c);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, port = argc > 2 ? atoi(argv[2]) : 0;
    if (threads < 1 || threads > 64 || port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [THREADS 1-64 [PORT]]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g_listen = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (g_listen < 0 || bind(g_listen, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(g_listen, 1024) < 0 || getsockname(g_listen, (struct sockaddr *)&sa, &sl) < 0) {
        fprintf(stderr, "funk-bench-wd-upstream: cannot listen on 127.0.0.1:%d: %s\n", port,
                strerror(errno));
        return 1;
    }
    printf("port %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    pthread_t t[64];
    for (int i = 1; i < threads; i++)
        pthread_create(&t[i], NULL, loop, NULL);
    loop(NULL);
    return 1;
}
