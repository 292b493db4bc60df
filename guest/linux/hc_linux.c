/* SPDX-License-Identifier: Apache-2.0 */
/* Guest SDK on musl (funk-cc --linux): funk hypercalls as one system call, the guest API on libc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <funk/guest.h>

#include "../sdk.h"

/*
 * A function built with `funk-cc --linux` is an ordinary static Linux program linked against
 * musl (a real libc: stdio, floating point, locale-free printf, malloc) plus this SDK. It runs
 * under funk's Linux system-call personality (funk-monitor --linux, funkd), which serves its libc's
 * system calls and, because the program carries the funk note below, its funk hypercalls:
 * the system call FUNK_LINUX_HC_NR with the hypercall number and the address of the same
 * argument structs a unikernel passes (include/funk/abi/funk.h). fn.c and fn_common.c, shared
 * with the unikernel SDK, build on that.
 */

FUNK_NOTE_DECLARE(FUNK_NOTE_F_PROCESS_OK);

static void linux_hc(uint64_t nr, uint64_t arg)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"((long)FUNK_LINUX_HC_NR), "D"(nr), "S"(arg)
                     : "rcx", "r11", "memory");
    if (r == -38 /* ENOSYS */) {
        /* Run natively, or by a monitor without funk hypercalls: say what this program is. */
        static const char msg[] = "funk: this program is a funk function (funk-cc --linux): run it "
                                  "with funk-monitor --linux or deploy it to funkd\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    if (r != 0) {
        /* the monitor refused the call's memory (e.g. a buffer the program may not write) */
        fprintf(stderr, "funk: hypercall %llu refused: %s\n", (unsigned long long)nr,
                strerror((int)-r));
        abort();
    }
}

sdk_hc_fn sdk_hc_entry = linux_hc;
const struct hvt_boot_info *sdk_boot; /* no hvt boot info: libc has argv, env, clocks */
/* non-NULL says "a funk monitor" to the shared SDK code (guest/accel.c); none of its fields are
 * read here: the environment is libc's */
static const struct funk_boot_info linux_funk_info;
const struct funk_boot_info *sdk_funk = &linux_funk_info;

void funk_console_write(const char *buf, size_t len)
{
    fflush(stdout);
    while (len > 0) {
        ssize_t w = write(2, buf, len);
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

static funk_time_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (funk_time_t)ts.tv_sec * 1000000000u + (funk_time_t)ts.tv_nsec;
}

funk_time_t funk_clock_wall(void)
{
    return clock_ns(CLOCK_REALTIME);
}

funk_time_t funk_clock_monotonic(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

_Noreturn void funk_exit(int status)
{
    exit(status);
}

_Noreturn void funk_abort(void)
{
    abort();
}

_Noreturn void funk_abort_msg(const char *why)
{
    fprintf(stderr, "funk: abort: %s\n", why ? why : "");
    abort();
}

const struct hvt_boot_info *funk_boot_info(void)
{
    return NULL;
}

const struct funk_boot_info *funk_boot_info_ext(void)
{
    return NULL;
}

enum funk_isolation funk_isolation(void)
{
    return FUNK_ISOLATION_PROCESS; /* the personality runs on the process backend */
}

const char *funk_getenv(const char *name)
{
    return getenv(name);
}
