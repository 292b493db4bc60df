/* SPDX-License-Identifier: Apache-2.0 */
/* One message with file descriptors (SCM_RIGHTS) over a unix socket. No heap and no ASan
 * instrumentation: snapshot templates call these from the guest's process on the guest's stack. */
#include "fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NO_ASAN __attribute__((no_sanitize("address")))

union fdpass_cbuf {
    char buf[CMSG_SPACE(FDPASS_MAX * sizeof(int))];
    struct cmsghdr align;
};

NO_ASAN ssize_t fdpass_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
    union fdpass_cbuf u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {(void *)buf, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > FDPASS_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (nfds) {
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    ssize_t n;
    while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return n;
}

NO_ASAN ssize_t fdpass_recv(int sock, void *buf, size_t len, int flags, int *fds, unsigned max,
                            unsigned *nfds, int *cut)
{
    union fdpass_cbuf u;
    struct iovec iov = {buf, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n;
    while ((n = recvmsg(sock, &mh, flags)) < 0 && errno == EINTR)
        ;
    *nfds = 0;
    *cut = n >= 0 && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    if (n < 0)
        return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*nfds < max) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd); /* more than the caller takes: never left open */
                *cut = 1;
            }
        }
    }
    return n;
}
