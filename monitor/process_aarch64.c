/* SPDX-License-Identifier: Apache-2.0 */
/* Process backend, aarch64 part: entering the guest and describing its faults (the kernel's
 * ESR record in the signal frame says read, write or exec, and translation vs permission). */
#include <asm/sigcontext.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#include "process_arch.h"

void process_arch_enter(uint64_t entry, uint64_t sp_top, uint64_t boot_info)
{
    uint64_t sp = sp_top & ~(uint64_t)15;
    register uint64_t x0 __asm__("x0") = boot_info;
    __asm__ volatile("mov sp, %0\n\t"
                     "mov x29, xzr\n\t"
                     "mov x30, xzr\n\t"
                     "br %1\n\t"
                     :
                     : "r"(sp), "r"(entry), "r"(x0)
                     : "memory");
    __builtin_unreachable();
}

/* The ESR_EL1 value the kernel saved for this signal (0 when the frame has none). */
static uint64_t fault_esr(const ucontext_t *uc)
{
    const uint8_t *p = (const uint8_t *)uc->uc_mcontext.__reserved;
    const uint8_t *end = p + sizeof uc->uc_mcontext.__reserved;
    while (p + sizeof(struct _aarch64_ctx) <= end) {
        struct _aarch64_ctx h;
        memcpy(&h, p, sizeof h);
        if (h.magic == 0 || h.size < sizeof h || h.size > (size_t)(end - p))
            break;
        if (h.magic == ESR_MAGIC && h.size >= sizeof(struct esr_context)) {
            struct esr_context e;
            memcpy(&e, p, sizeof e);
            return e.esr;
        }
        p += h.size;
    }
    return 0;
}

void process_arch_fault_reason(int sig, const siginfo_t *si, const void *ucontext, char *out,
                               size_t len)
{
    const ucontext_t *uc = ucontext;
    unsigned long long pc = (unsigned long long)uc->uc_mcontext.pc;
    unsigned long long addr = (unsigned long long)(uintptr_t)si->si_addr;
    uint64_t esr = fault_esr(uc);
    unsigned ec = (unsigned)(esr >> 26) & 0x3f, fsc = (unsigned)esr & 0x3f;
    /* EC 0x20/0x21 instruction abort, 0x24/0x25 data abort (WnR: bit 6); FSC 0b0011xx is a
     * permission fault, 0b0001xx a translation fault (nothing mapped). */
    if (sig == SIGSEGV && (ec == 0x20 || ec == 0x21 || ec == 0x24 || ec == 0x25)) {
        const char *kind = ec <= 0x21 ? "exec" : (esr & (1u << 6)) ? "write" : "read";
        snprintf(out, len, "guest fault: page fault at 0x%llx (pc=0x%llx, %s%s)", addr, pc, kind,
                 (fsc & 0x3c) == 0x0c ? ", protection" : "");
    } else if (sig == SIGSYS) {
        snprintf(out, len, "sandbox: guest made a forbidden system call %d at pc=0x%llx",
                 si->si_syscall, pc);
    } else {
        const char *what = sig == SIGILL    ? "undefined instruction"
                           : sig == SIGFPE  ? "arithmetic exception"
                           : sig == SIGTRAP ? "breakpoint"
                           : sig == SIGBUS  ? "bus error (alignment)"
                           : sig == SIGSEGV ? "memory fault"
                                            : "fault";
        snprintf(out, len, "guest fault: %s (signal %d, pc=0x%llx)", what, sig, pc);
    }
}
