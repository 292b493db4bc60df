/* SPDX-License-Identifier: Apache-2.0 */
/* An exec library for the agent sandbox test: each symbol tries one thing a compromised plugin
 * would, and returns 0 when it worked or -errno when the sandbox stopped it. */
#include <funk/accel.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int open_shadow(const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out)
{
    (void)in, (void)n_in, (void)out, (void)n_out;
    int fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

/* personality(0xffffffff) only queries: harmless where allowed, -EPERM under the filter. */
EXPORT int query_personality(const funk_accel_arg *in, size_t n_in, funk_accel_arg *out,
                             size_t n_out)
{
    (void)in, (void)n_in, (void)out, (void)n_out;
    return personality(0xffffffff) < 0 ? -errno : 0;
}

EXPORT int tcp_socket(const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out)
{
    (void)in, (void)n_in, (void)out, (void)n_out;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}
