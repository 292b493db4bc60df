/* SPDX-License-Identifier: Apache-2.0 */
/* The Solo5-like guest API over hypercalls: console, clocks, yield, halt, environment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <funk/guest.h>

#include "libc/libc_internal.h"
#include "sdk.h"

void funk_console_write(const char *buf, size_t len)
{
    struct hvt_hc_puts a = {.data = buf, .len = len};
    sdk_hypercall(HVT_HYPERCALL_PUTS, &a);
}

funk_time_t funk_clock_wall(void)
{
    struct hvt_hc_walltime a = {0};
    sdk_hypercall(HVT_HYPERCALL_WALLTIME, &a);
    return a.nsecs;
}

/* TSC -> ns as a 32.32 fixed-point multiplier, computed on first use (no division later). */
static uint64_t tsc_mult;

funk_time_t funk_clock_monotonic(void)
{
    if (tsc_mult == 0) {
        uint64_t f = sdk_boot->cpu_cycle_freq;
        if (f == 0 || f > 1000000000000ull)
            return funk_clock_wall();
        tsc_mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / f);
    }
    uint64_t tsc = sdk_arch_cycles();
    return (uint64_t)(((unsigned __int128)tsc * tsc_mult) >> 32);
}

bool funk_yield(funk_time_t deadline, uint64_t *ready_set)
{
    funk_time_t now = funk_clock_monotonic();
    struct hvt_hc_poll a = {.timeout_nsecs = deadline > now ? deadline - now : 0};
    sdk_hypercall(HVT_HYPERCALL_POLL, &a);
    if (ready_set != NULL)
        *ready_set = a.ready_set;
    return a.ret > 0;
}

_Noreturn void funk_exit(int status)
{
    struct hvt_hc_halt a = {.cookie = NULL, .exit_status = status};
    sdk_hypercall(HVT_HYPERCALL_HALT, &a);
    /* HALT does not come back; if a monitor ever resumed us, fault visibly. */
    for (;;)
        __builtin_trap();
}

_Noreturn void funk_abort(void)
{
    funk_exit(255);
}

_Noreturn void funk_abort_msg(const char *why)
{
    char line[320];
    size_t n = strlen(why);
    if (n > sizeof line - 14)
        n = sizeof line - 14;
    memcpy(line, "funk: abort: ", 13);
    memcpy(line + 13, why, n);
    line[13 + n] = '\n';
    funk_console_write(line, 14 + n);
    funk_abort();
}

const struct hvt_boot_info *funk_boot_info(void)
{
    return sdk_boot;
}

const struct funk_boot_info *funk_boot_info_ext(void)
{
    return sdk_funk;
}

enum funk_isolation funk_isolation(void)
{
    return sdk_funk != NULL ? (enum funk_isolation)sdk_funk->isolation : FUNK_ISOLATION_KVM;
}

const char *funk_getenv(const char *name)
{
    if (sdk_funk == NULL || sdk_funk->env == NULL || name == NULL)
        return NULL;
    size_t n = strlen(name);
    const char *p = sdk_funk->env;
    const char *end = p + sdk_funk->env_size;
    while (p < end && *p) {
        size_t len = strnlen(p, (size_t)(end - p));
        if (len > n && p[n] == '=' && memcmp(p, name, n) == 0)
            return p + n + 1;
        p += len + 1;
    }
    return NULL;
}

char *getenv(const char *name)
{
    return (char *)funk_getenv(name);
}

/* libc hooks */
void libc_console_write(const char *buf, size_t len)
{
    funk_console_write(buf, len);
}

_Noreturn void libc_exit(int status)
{
    funk_exit(status);
}

_Noreturn void libc_abort(const char *why)
{
    funk_abort_msg(why);
}
