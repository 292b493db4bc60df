/* SPDX-License-Identifier: Apache-2.0 */
/* The FS base swap of a guest process's SIGSYS handler (Linux and Solo5 spt guests own the FS
 * base, their TLS; the monitor's C code needs its own): rdfsbase/wrfsbase where the CPU has
 * FSGSBASE, else a raw arch_prctl, and the attributes of code that runs before the swap.
 * Included by one file per guest kind; each keeps its own have_fsgsbase. */
#ifndef FUNK_MONITOR_FSBASE_X86_64_H
#define FUNK_MONITOR_FSBASE_X86_64_H

#include <asm/prctl.h>
#include <stdint.h>
#include <sys/syscall.h>

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define NO_SSP __attribute__((no_stack_protector))
#endif
#endif
#ifndef NO_SSP
#define NO_SSP
#endif
/* Runs with the guest's FS base: nothing here may touch TLS (no errno, no canary, no ASan). */
#define RAW_ENTRY NO_SSP __attribute__((no_sanitize("address", "undefined"), noinline))

/* arch_prctl without libc (no errno: TLS may be the guest's). */
static inline __attribute__((always_inline)) void fsbase_arch_prctl(long code, unsigned long addr)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"((long)SYS_arch_prctl), "D"(code), "S"(addr)
                     : "rcx", "r11", "memory");
    (void)r;
}

static inline __attribute__((always_inline)) uint64_t fsbase_get(int have_fsgsbase)
{
    uint64_t v = 0;
    if (have_fsgsbase)
        __asm__ volatile("rdfsbase %0" : "=r"(v));
    else
        fsbase_arch_prctl(ARCH_GET_FS, (unsigned long)(uintptr_t)&v);
    return v;
}

static inline __attribute__((always_inline)) void fsbase_set(int have_fsgsbase, uint64_t v)
{
    if (have_fsgsbase)
        __asm__ volatile("wrfsbase %0" : : "r"(v) : "memory");
    else
        fsbase_arch_prctl(ARCH_SET_FS, (unsigned long)v);
}

#endif
