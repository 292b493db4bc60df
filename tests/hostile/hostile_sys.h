/* SPDX-License-Identifier: Apache-2.0 */
/* Raw Linux system calls for hostile guests under the process backend (no SDK in between). */
#ifndef FUNK_TESTS_HOSTILE_SYS_H
#define FUNK_TESTS_HOSTILE_SYS_H

#include <stddef.h>
#include <stdint.h>

#include <funk/guest.h>

static inline long hostile_sys6(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ __volatile__("syscall"
                         : "=a"(ret)
                         : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
    return ret;
}

#define hostile_sys(nr, a, b, c) hostile_sys6((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline int hostile_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        long r = hostile_sys(1, fd, b, n);
        if (r == -4)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static inline int hostile_read_all(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        long r = hostile_sys(0, fd, b, n);
        if (r == -4)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

#define HOSTILE_SAY(s) funk_console_write((s), sizeof(s) - 1)

#endif /* FUNK_TESTS_HOSTILE_SYS_H */
