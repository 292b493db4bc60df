/* SPDX-License-Identifier: Apache-2.0 */
/* One message with file descriptors (SCM_RIGHTS) over a unix socket: the launcher's request and
 * reply, a template's fork command and its answer. */
#ifndef FUNK_MONITOR_FDPASS_H
#define FUNK_MONITOR_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX 96 /* fds in one message: a launch request carries up to 3 + 64 devices + 16 + 3 */

/* Sends len bytes with nfds (<= FDPASS_MAX) fds attached; retries EINTR. sendmsg's result. */
ssize_t fdpass_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds);

/* Receives up to len bytes and the fds sent with them: up to max land in fds[] (*nfds of them),
 * any beyond are closed; *cut says the data or the fds did not all fit (MSG_TRUNC, MSG_CTRUNC,
 * or more than max fds). flags go to recvmsg (MSG_CMSG_CLOEXEC, MSG_DONTWAIT); EINTR is retried.
 * recvmsg's result. */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int flags, int *fds, unsigned max,
                    unsigned *nfds, int *cut);

#endif /* FUNK_MONITOR_FDPASS_H */
