/* SPDX-License-Identifier: Apache-2.0 */
/* sys/types.h of the guest libc (x86_64 LP64): the POSIX integer types portable C names. */
#ifndef FUNK_GUEST_SYS_TYPES_H
#define FUNK_GUEST_SYS_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef long ssize_t;
typedef long off_t;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef unsigned int mode_t;
typedef long time_t;
typedef long suseconds_t;
typedef int clockid_t;

#endif
