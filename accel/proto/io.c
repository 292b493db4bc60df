/* SPDX-License-Identifier: Apache-2.0 */
/* funk accel wire protocol transport helpers: addresses (unix, vsock, tcp), frame read/write. */
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct sockaddr_storage) <= sizeof(((struct fkp_addr *)0)->sa),
               "fkp_addr holds any socket address");

static int bad(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -EINVAL;
}

static bool parse_u32(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static int parse_port(const char *s, const char **why, uint16_t *port)
{
    uint32_t v;
    if (!parse_u32(s, strlen(s), &v) || v == 0 || v > 65535)
        return bad(why, "port must be a number from 1 to 65535");
    *port = (uint16_t)v;
    return 0;
}

int fkp_addr_parse(const char *text, struct fkp_addr *a, const char **why)
{
    memset(a, 0, sizeof(*a));
    if (text == NULL || *text == '\0')
        return bad(why, "empty address");
    if (!strncmp(text, "unix:", 5)) {
        const char *path = text + 5;
        if (!strncmp(path, "//", 2))
            path += 2; /* unix:///abs -> /abs */
        struct sockaddr_un *un = (struct sockaddr_un *)a->sa;
        size_t n = strlen(path);
        if (n == 0)
            return bad(why, "unix address without a path");
        if (n >= sizeof(un->sun_path))
            return bad(why, "unix socket path too long (max 107 bytes)");
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, n + 1);
        a->family = AF_UNIX;
        a->sa_len = (uint32_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (!strncmp(text, "vsock://", 8)) {
        const char *s = text + 8, *colon = strchr(s, ':');
        uint32_t cid, port;
        if (colon == NULL)
            return bad(why, "vsock address needs CID:PORT");
        if (!parse_u32(s, (size_t)(colon - s), &cid))
            return bad(why, "vsock CID must be a number");
        if (!parse_u32(colon + 1, strlen(colon + 1), &port))
            return bad(why, "vsock port must be a number");
        struct sockaddr_vm *vm = (struct sockaddr_vm *)a->sa;
        vm->svm_family = AF_VSOCK;
        vm->svm_cid = cid;
        vm->svm_port = port;
        a->family = AF_VSOCK;
        a->sa_len = sizeof(*vm);
        return 0;
    }
    if (!strncmp(text, "tcp://", 6)) {
        const char *s = text + 6;
        char host[64];
        const char *port_s;
        if (*s == '[') {
            const char *end = strchr(s, ']');
            if (end == NULL || end[1] != ':')
                return bad(why, "tcp IPv6 address must be [ADDR]:PORT");
            if ((size_t)(end - s - 1) >= sizeof(host))
                return bad(why, "tcp host too long");
            memcpy(host, s + 1, (size_t)(end - s - 1));
            host[end - s - 1] = '\0';
            port_s = end + 2;
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)a->sa;
            in6->sin6_family = AF_INET6;
            if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                return bad(why, "not an IPv6 address");
            int rc = parse_port(port_s, why, &in6->sin6_port);
            if (rc < 0)
                return rc;
            in6->sin6_port = htons(in6->sin6_port);
            a->family = AF_INET6;
            a->sa_len = sizeof(*in6);
            return 0;
        }
        const char *colon = strrchr(s, ':');
        if (colon == NULL || colon == s)
            return bad(why, "tcp address needs HOST:PORT");
        if ((size_t)(colon - s) >= sizeof(host))
            return bad(why, "tcp host too long");
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        struct sockaddr_in *in = (struct sockaddr_in *)a->sa;
        in->sin_family = AF_INET;
        if (!strcmp(host, "localhost"))
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
            return bad(why, "tcp host must be an IPv4 address, [IPv6] or localhost");
        int rc = parse_port(colon + 1, why, &in->sin_port);
        if (rc < 0)
            return rc;
        in->sin_port = htons(in->sin_port);
        a->family = AF_INET;
        a->sa_len = sizeof(*in);
        return 0;
    }
    return bad(why, "address must start with unix:, vsock:// or tcp://");
}

static void tune(int fd, int family)
{
    if (family == AF_INET || family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

int fkp_connect(const struct fkp_addr *a, int timeout_ms)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (const struct sockaddr *)a->sa, a->sa_len);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        rc = poll(&p, 1, timeout_ms);
        if (rc == 0) {
            close(fd);
            return -ETIMEDOUT;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            close(fd);
            return -err;
        }
    } else if (rc < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    tune(fd, a->family);
    return fd;
}

int fkp_listen(const struct fkp_addr *a, int backlog)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (a->family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)a->sa;
        struct stat st;
        /* Replace a stale socket file (never anything else). */
        if (lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(un->sun_path);
    } else {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (bind(fd, (const struct sockaddr *)a->sa, a->sa_len) < 0 || listen(fd, backlog) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to become ready; timeout_ms < 0 waits forever. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    if (timeout_ms < 0)
        return 0; /* blocking socket: the syscall itself waits */
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int rc = poll(&p, 1, timeout_ms);
        if (rc > 0)
            return 0;
        if (rc == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

int fkp_write_all(int fd, const void *p, size_t len, int timeout_ms)
{
    const uint8_t *b = p;
    while (len > 0) {
        int rc = wait_fd(fd, POLLOUT, timeout_ms);
        if (rc < 0)
            return rc;
        ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errno == EPIPE ? -ECONNRESET : -errno;
        }
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads exactly len bytes before the deadline (< 0: none). */
static int read_all(int fd, void *p, size_t len, int64_t deadline)
{
    uint8_t *b = p;
    while (len > 0) {
        int left = -1;
        if (deadline >= 0) {
            int64_t d = deadline - now_ms();
            left = d <= 0 ? 0 : (d > INT_MAX ? INT_MAX : (int)d);
        }
        int rc = wait_fd(fd, POLLIN, left);
        if (rc < 0)
            return rc;
        ssize_t n = recv(fd, b, len, 0);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errno == EPIPE ? -ECONNRESET : -errno;
        }
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

int fkp_read_frame(int fd, uint8_t **buf, size_t *cap, struct fkp_hdr *h, uint32_t max_payload,
                   int timeout_ms)
{
    uint8_t raw[FKP_HDR_SIZE];
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int rc = read_all(fd, raw, sizeof(raw), deadline);
    if (rc < 0)
        return rc;
    int hrc = fkp_decode_header(raw, max_payload, h);
    if (hrc < 0 && hrc != -EPROTONOSUPPORT)
        return hrc;
    if (h->len > *cap || *buf == NULL) {
        size_t want = h->len ? h->len : 8;
        void *p = NULL;
        if (posix_memalign(&p, 16, want) != 0)
            return -ENOMEM;
        free(*buf);
        *buf = p;
        *cap = want;
    }
    rc = read_all(fd, *buf, h->len, deadline);
    if (rc < 0)
        return rc;
    return hrc;
}
