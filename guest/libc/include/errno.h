/* SPDX-License-Identifier: Apache-2.0 */
/* errno.h of the guest libc: Linux-numbered error codes, so negative errno values mean the same
 * thing in the guest, in the host monitor and in the accel API. */
#ifndef FUNK_GUEST_ERRNO_H
#define FUNK_GUEST_ERRNO_H

extern int errno;

#define EPERM 1
#define ENOENT 2
#define EINTR 4
#define EIO 5
#define E2BIG 7
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENODEV 19
#define EINVAL 22
#define ENOSPC 28
#define ESPIPE 29
#define EPIPE 32
#define EDOM 33
#define ERANGE 34
#define ENOSYS 38
#define ENODATA 61
#define ETIME 62
#define EOVERFLOW 75
#define EMSGSIZE 90
#define EPROTO 71
#define ENOTSUP 95
#define EOPNOTSUPP 95
#define ETIMEDOUT 110
#define ECANCELED 125

#endif
