/* SPDX-License-Identifier: Apache-2.0 */
/* The process backend's seccomp policy (libseccomp), used at run time and by the generator. */
#include <linux/prctl.h>
#include <linux/sched.h>
#include <stddef.h>
#include <sys/mman.h>

#include "process_filter.h"

scmp_filter_ctx vm_process_filter(const char *layout, const struct proc_dev_geo *dev)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx)
        return NULL;
    int rc = 0;
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, CHAN_FD));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, SCMP_A0(SCMP_CMP_EQ, CHAN_FD));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 2));
    for (unsigned i = 0; layout[i]; i++) {
        scmp_datum_t d = (scmp_datum_t)(DEV_FD0 + (int)i);
        if (layout[i] == 'b') {
            if (!dev || dev[i].block_size == 0 || dev[i].capacity < dev[i].block_size) {
                rc = -1;
                continue;
            }
            scmp_datum_t bs = dev[i].block_size, last = dev[i].capacity - dev[i].block_size;
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pread64), 3, SCMP_A0(SCMP_CMP_EQ, d),
                                   SCMP_A2(SCMP_CMP_EQ, bs), SCMP_A3(SCMP_CMP_LE, last));
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwrite64), 3, SCMP_A0(SCMP_CMP_EQ, d),
                                   SCMP_A2(SCMP_CMP_EQ, bs), SCMP_A3(SCMP_CMP_LE, last));
        } else if (layout[i] == 'n') {
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, SCMP_A0(SCMP_CMP_EQ, d));
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, d));
        }
    }
    static const int plain[] = {SCMP_SYS(clock_gettime), SCMP_SYS(ppoll), SCMP_SYS(rt_sigreturn),
                                SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(munmap),
                                SCMP_SYS(brk), SCMP_SYS(madvise), SCMP_SYS(futex),
                                SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigprocmask),
                                SCMP_SYS(getpid), SCMP_SYS(gettid)};
    for (unsigned i = 0; i < sizeof plain / sizeof plain[0]; i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
    /* Memory for malloc, never executable: no new code can appear in the guest's process. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* A snapshot template ('T' in the layout) forks its instances: plain forks (no threads),
     * the fd of each instance's channel, and the filter each instance stacks. */
    for (unsigned i = 0; layout[i]; i++)
        if (layout[i] == 'T') {
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                   SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_VM, 0));
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 1,
                                   SCMP_A0(SCMP_CMP_EQ, CHAN_FD));
            /* each fork's pidfd goes back to the supervisor (CHAN_FORKED) */
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
                                   SCMP_A0(SCMP_CMP_EQ, CHAN_FD));
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                                   SCMP_A0(SCMP_CMP_EQ, PR_SET_PDEATHSIG));
            /* dup2 where the architecture has it (x86_64); aarch64 has only dup3, which its
             * glibc's dup2 calls. */
            static const int tpl[] = {SCMP_SYS(dup2) >= 0 ? SCMP_SYS(dup2) : SCMP_SYS(dup3),
                                      SCMP_SYS(close), SCMP_SYS(seccomp),
                                      SCMP_SYS(set_robust_list)};
            for (unsigned j = 0; j < sizeof tpl / sizeof tpl[0]; j++)
                rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, tpl[j], 0);
        }
    if (rc) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}
