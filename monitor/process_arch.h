/* SPDX-License-Identifier: Apache-2.0 */
/* What the process backend needs per architecture (process_x86_64.c, process_aarch64.c). */
#ifndef FUNK_MONITOR_PROCESS_ARCH_H
#define FUNK_MONITOR_PROCESS_ARCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Attribute of the hypercall entry guests call: x86_64 realigns the stack (a guest's misaligned
 * stack must not break host SSE code); aarch64's sp is always 16-byte aligned (the CPU checks). */
#if defined(__x86_64__)
#define PROCESS_ENTRY_ALIGN __attribute__((force_align_arg_pointer))
#else
#define PROCESS_ENTRY_ALIGN
#endif

/* Jumps to the guest's entry with its stack top at sp_top and the boot info address as the
 * first argument, with no frame to return to. */
void process_arch_enter(uint64_t entry, uint64_t sp_top, uint64_t boot_info)
    __attribute__((noreturn));

/* One line about a fault signal in the guest (or SIGSYS from the filter), from the signal's
 * context (async-signal-safe: snprintf of integers only). */
void process_arch_fault_reason(int sig, const siginfo_t *si, const void *ucontext, char *out,
                               size_t len);

#endif /* FUNK_MONITOR_PROCESS_ARCH_H */
