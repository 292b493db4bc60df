/* SPDX-License-Identifier: Apache-2.0 */
/* A hostile musl guest: every system call number with random and crafted arguments; the
 * personality must answer each one (never fault, never end the host); prints "survived". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static char scratch[8192];

/* Arguments a hostile program would try: zero, small and huge numbers, -1, pointers into its
 * data, its text, just past its memory, the null page, kernel and non-canonical addresses. */
static uint64_t arg(void)
{
    static const uint64_t fixed[] = {0,
                                     1,
                                     2,
                                     3,
                                     5,
                                     64,
                                     4096,
                                     ~0ull,
                                     0x7fffffff,
                                     0x80000000,
                                     0x10000,
                                     0xfff,
                                     0xffff800000000000ull,
                                     0x8000000000000000ull,
                                     0x00007ffffffff000ull};
    switch (next() % 6) {
    case 0:
        return fixed[next() % (sizeof fixed / sizeof fixed[0])];
    case 1:
        return (uint64_t)(uintptr_t)scratch + next() % sizeof scratch;
    case 2:
        return (uint64_t)(uintptr_t)&arg + next() % 4096; /* text: read-only */
    case 3:
        return next() % 0x10000000; /* anywhere low, mostly unmapped */
    case 4:
        return next() % 16;
    default:
        return next();
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) /* the seed: a run is reproducible from its number */
        state ^= (uint64_t)strtoull(argv[1], NULL, 10) * 0xbf58476d1ce4e5b9ull;
    /* Calls that would end this very test (exit, a signal to itself, an endless futex wait,
     * long sleeps) or take its own memory, TLS or stdout away (it may do that to itself: the
     * point is the monitor, not this program). */
    static const int skip[] = {
        SYS_exit,         SYS_exit_group, SYS_kill,          SYS_tkill,
        SYS_tgkill,       SYS_futex,      SYS_nanosleep,     SYS_clock_nanosleep,
        SYS_mmap,         SYS_munmap,     SYS_mremap,        SYS_mprotect,
        SYS_brk,          SYS_madvise,    SYS_arch_prctl,    SYS_close,
        SYS_rt_sigreturn, SYS_poll,       SYS_ppoll,         SYS_select,
        SYS_pselect6,     SYS_pause,      SYS_rt_sigsuspend, SYS_set_tid_address,
        SYS_sigaltstack};
    long calls = 0;
    for (int round = 0; round < 8; round++)
        for (long nr = 0; nr < 460; nr++) {
            /* 335..423 are unallocated: this host's kernel (6.18) answers them with SIGILL
             * before any filter runs, natively too */
            int skipped = nr > 334 && nr < 424;
            for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
                skipped |= skip[i] == nr;
            if (skipped)
                continue;
            uint64_t a[6];
            for (int i = 0; i < 6; i++)
                a[i] = arg();
            if (nr == SYS_write || nr == SYS_writev || nr == SYS_pwrite64 || nr == SYS_sendfile)
                a[0] = 2; /* junk to the log, not into the checked output */
            syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
            calls++;
        }
    /* poll and sleeps with safe arguments */
    syscall(SYS_nanosleep, &(long[2]){0, 1000}, NULL);
    syscall(SYS_poll, scratch, 3, 0);
    printf("survived %ld calls\n", calls);
    return 0;
}
