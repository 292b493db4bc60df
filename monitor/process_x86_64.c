/* SPDX-License-Identifier: Apache-2.0 */
/* Process backend, x86_64 part: entering the guest and describing its faults. */
#include <stdio.h>
#include <ucontext.h>

#include "process_arch.h"

void process_arch_enter(uint64_t entry, uint64_t sp_top, uint64_t boot_info)
{
    uint64_t sp = sp_top - 8; /* as right after a call */
    __asm__ volatile("mov %0, %%rsp\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "jmp *%1\n\t"
                     :
                     : "r"(sp), "r"(entry), "D"(boot_info)
                     : "memory");
    __builtin_unreachable();
}

void process_arch_fault_reason(int sig, const siginfo_t *si, const void *ucontext, char *out,
                               size_t len)
{
    const ucontext_t *uc = ucontext;
    unsigned long long rip = (unsigned long long)uc->uc_mcontext.gregs[REG_RIP];
    unsigned long long err = (unsigned long long)uc->uc_mcontext.gregs[REG_ERR];
    unsigned long long addr = (unsigned long long)(uintptr_t)si->si_addr;
    if (sig == SIGSEGV && uc->uc_mcontext.gregs[REG_TRAPNO] == 14) {
        const char *kind = (err & 0x10) ? "exec" : (err & 0x2) ? "write" : "read";
        snprintf(out, len, "guest fault: page fault at 0x%llx (rip=0x%llx, %s%s)", addr, rip, kind,
                 (err & 0x1) ? ", protection" : "");
    } else if (sig == SIGSYS) {
        snprintf(out, len, "sandbox: guest made a forbidden system call %d at rip=0x%llx",
                 si->si_syscall, rip);
    } else {
        const char *what = sig == SIGILL    ? "invalid opcode"
                           : sig == SIGFPE  ? "divide error"
                           : sig == SIGTRAP ? "breakpoint"
                           : sig == SIGBUS  ? "bus error"
                                            : "general protection fault";
        snprintf(out, len, "guest fault: %s (signal %d, rip=0x%llx)", what, sig, rip);
    }
}
