/* SPDX-License-Identifier: Apache-2.0 */
/* Seccomp rules for the ACCEL hypercall, shared by the KVM run-loop sandbox, the process
 * backend's child filter and its build-time generator (plain libseccomp, nothing else). */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sys/mman.h>

#include "hc_accel_filter.h"

/* (The build-time generator compiles this without _GNU_SOURCE.) */
#ifndef F_DUPFD_CLOEXEC
#define F_DUPFD_CLOEXEC 1030
#endif
#ifndef O_ASYNC
#define O_ASYNC 020000
#endif

int hc_accel_filter_rules(scmp_filter_ctx ctx, int agent_fd, bool inproc)
{
    int rc = 0;
    if (agent_fd >= 0) {
        /* Agent mode: the one connected socket (made before the sandbox), polled with timeouts. */
        scmp_datum_t d = (scmp_datum_t)agent_fd;
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1, SCMP_A0(SCMP_CMP_EQ, d));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvfrom), 1, SCMP_A0(SCMP_CMP_EQ, d));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(close), 1, SCMP_A0(SCMP_CMP_EQ, d));
        /* poll where the architecture has it (x86_64); aarch64's glibc poll() is ppoll. */
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
                               SCMP_SYS(poll) >= 0 ? SCMP_SYS(poll) : SCMP_SYS(ppoll), 0);
    }
    if (inproc) {
        /* In process: plugins were loaded before the sandbox, but their libraries still create
         * threads, read model files and map memory on first use. Never executable memory,
         * never a file opened for writing, no sockets, no new process (threads only: clone
         * with CLONE_THREAD|CLONE_VM; clone3 hides its flags in memory, so it answers ENOSYS
         * and the C library falls back to clone), no rlimits of another process, no signal
         * ownership of an fd (F_SETOWN/F_SETSIG/O_ASYNC could SIGKILL any pid), no writes to
         * fds 0 and 1 (issue 11 item 3). */
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_VM,
                                       CLONE_THREAD | CLONE_VM));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A0(SCMP_CMP_EQ, 0));
        static const int fcntl_ok[] = {F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_DUPFD_CLOEXEC};
        for (unsigned i = 0; i < sizeof fcntl_ok / sizeof fcntl_ok[0]; i++)
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
                                   SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_ok[i]));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 2, SCMP_A1(SCMP_CMP_EQ, F_SETFL),
                               SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_GT, 1));
        static const int plain[] = {
            SCMP_SYS(futex),
            SCMP_SYS(set_robust_list),
            SCMP_SYS(rseq),
            SCMP_SYS(rt_sigprocmask),
            SCMP_SYS(madvise),
            SCMP_SYS(munmap),
            SCMP_SYS(brk),
            SCMP_SYS(read),
            SCMP_SYS(pread64),
            SCMP_SYS(close),
            SCMP_SYS(fstat),
            SCMP_SYS(newfstatat),
            SCMP_SYS(statx),
            SCMP_SYS(lseek),
            SCMP_SYS(sched_getaffinity),
            SCMP_SYS(sched_yield),
            SCMP_SYS(getpid),
            SCMP_SYS(gettid),
            SCMP_SYS(getrandom),
            SCMP_SYS(sysinfo),
            SCMP_SYS(uname),
            SCMP_SYS(readlink) >= 0 ? SCMP_SYS(readlink) : SCMP_SYS(readlinkat), /* aarch64 */
            SCMP_SYS(access),
            SCMP_SYS(faccessat),
            SCMP_SYS(faccessat2),
            SCMP_SYS(nanosleep),
            SCMP_SYS(clock_nanosleep),
            SCMP_SYS(exit),
            SCMP_SYS(getcwd),
            SCMP_SYS(mremap),
            SCMP_SYS(sched_setaffinity),
            SCMP_SYS(getdents64),
            SCMP_SYS(clock_getres),
            SCMP_SYS(sched_getparam),
            SCMP_SYS(sched_getscheduler),
            SCMP_SYS(pipe2),
            SCMP_SYS(mbind), /* OpenBLAS's memory policy for its own buffers */
        };
        for (unsigned i = 0; i < sizeof plain / sizeof plain[0]; i++)
            rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                               SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                               SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                               SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                               SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    }
    return rc ? -1 : 0;
}
