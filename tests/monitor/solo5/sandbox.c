/* SPDX-License-Identifier: Apache-2.0 */
/* spt test: what the tender's filter lets through. The command line picks one action: a call
 * outside Solo5 spt's set, or one of its calls with arguments the filter must refuse (all end
 * the run as a sandbox violation), or an allowed one (exit=N, abort, console from a pointer
 * outside guest memory, a block I/O that fits). */
#include "rt.h"

HVT_MFT1_NOTE_DECLARE(2, {.name = "", .type = MFT_RESERVED_FIRST},
                      {.name = "storage", .type = MFT_DEV_BLOCK_BASIC});

static uint8_t buf[8192] __attribute__((aligned(8)));

static int is(const char *a, const char *b)
{
    return rt_strcmp(a, b) == 0;
}

int app_main(const char *cmdline)
{
    rt_puts("\n**** Solo5 spt test_sandbox ****\n\n");
    const struct mft_entry *e;
    int h = rt_device("storage", MFT_DEV_BLOCK_BASIC, &e);
    if (h < 0)
        return rt_puts("FAILURE: no storage device\n"), RT_EXIT_FAILURE;
    long fd = e->b.hostfd, bs = e->u.block_basic.block_size;
    long cap = (long)e->u.block_basic.capacity;
    long r = 0;
    if (is(cmdline, "open")) {
        r = rt_syscall(RT_SYS_open, (long)"/etc/passwd", 0, 0, 0, 0, 0);
    } else if (is(cmdline, "getpid")) {
        r = rt_syscall(RT_SYS_getpid, 0, 0, 0, 0, 0, 0);
    } else if (is(cmdline, "write5")) {
        r = rt_syscall(RT_SYS_write, 5, (long)"x", 1, 0, 0, 0);
    } else if (is(cmdline, "write_blockfd")) {
        r = rt_syscall(RT_SYS_write, fd, (long)"x", 1, 0, 0, 0); /* block fd: pwrite64 only */
    } else if (is(cmdline, "pread_big")) {
        r = rt_syscall(RT_SYS_pread64, fd, (long)buf, 2 * bs, 0, 0, 0);
    } else if (is(cmdline, "pread_past")) {
        r = rt_syscall(RT_SYS_pread64, fd, (long)buf, bs, cap, 0, 0);
    } else if (is(cmdline, "pwrite_negative")) {
        r = rt_syscall(RT_SYS_pwrite64, fd, (long)buf, bs, -bs, 0, 0);
    } else if (is(cmdline, "pread_otherfd")) {
        r = rt_syscall(RT_SYS_pread64, fd + 1, (long)buf, bs, 0, 0, 0);
    } else if (is(cmdline, "x32_write")) {
        r = rt_syscall(0x40000000 | RT_SYS_write, 1, (long)"x", 1, 0, 0, 0); /* x32 ABI */
    } else if (is(cmdline, "int80_write")) {
        /* The i386 ABI through int $0x80: write(1, ...) is number 4 there. */
        __asm__ __volatile__("int $0x80"
                             : "=a"(r)
                             : "0"(4l), "b"(1l), "c"((long)"x"), "d"(1l)
                             : "memory");
    } else if (is(cmdline, "clock_cputime")) {
        long ts[2];
        r = rt_syscall(RT_SYS_clock_gettime, 2 /* CLOCK_PROCESS_CPUTIME_ID */, (long)ts, 0, 0, 0,
                       0);
    } else if (is(cmdline, "write_text")) {
        /* Text is R+X in the tender's process: the write faults (solo5-spt dies of SIGSEGV). */
        *(volatile uint8_t *)(uintptr_t)&app_main = 0xcc;
        rt_puts("FAILURE: wrote to text\n");
        return RT_EXIT_FAILURE;
    } else if (is(cmdline, "entry_state")) {
        /* The tender hands over nothing of its own: registers other than %rdi/%rsp/%rip (and
         * %rax, the entry) are zero, and the boot info page holds no 8-byte value that points
         * above guest memory (the command line and manifest pages hold text). */
        extern uint64_t rt_entry_regs[30];
        for (int i = 1; i < 30; i++)
            if (rt_entry_regs[i] != 0) {
                rt_puts("FAILURE: register ");
                rt_putu((uint64_t)i);
                rt_puts(" is ");
                rt_putx(rt_entry_regs[i]);
                rt_puts(" at entry\n");
                return RT_EXIT_FAILURE;
            }
        uint64_t top = 0;
        __asm__ __volatile__("mov %%rsp, %0" : "=r"(top));
        for (uintptr_t a = 0x10000; a < 0x11000; a += 8) {
            if (a == 0x10020)
                continue; /* spt_boot_info.epollfd, timerfd: two ints */
            uint64_t v = *(volatile uint64_t *)a;
            if (v > top + 4096) {
                rt_puts("FAILURE: boot area holds ");
                rt_putx(v);
                rt_puts(" at ");
                rt_putx(a);
                rt_puts("\n");
                return RT_EXIT_FAILURE;
            }
        }
        rt_puts("SUCCESS: clean entry\n");
        return RT_EXIT_SUCCESS;
    } else if (is(cmdline, "spin")) {
        for (;;) /* no system call: only the supervisor's timeout ends it */
            __asm__ __volatile__("pause");
    } else if (is(cmdline, "pread_last")) {
        /* Allowed: exactly one block at the last offset, straight to the host. */
        r = rt_syscall(RT_SYS_pread64, fd, (long)buf, bs, cap - bs, 0, 0);
        if (r != bs)
            return rt_puts("FAILURE: pread64 of the last block\n"), RT_EXIT_FAILURE;
        rt_puts("SUCCESS\n");
        return RT_EXIT_SUCCESS;
    } else if (is(cmdline, "console_fault")) {
        /* Console output from outside guest memory (the monitor's) is refused, not printed. */
        r = rt_syscall(RT_SYS_write, 1, 0x7f0000000000l, 16, 0, 0, 0);
        if (r != -14)
            return rt_puts("FAILURE: write(1) from outside guest memory accepted\n"),
                   RT_EXIT_FAILURE;
        rt_puts("SUCCESS: EFAULT\n");
        return RT_EXIT_SUCCESS;
    } else if (cmdline[0] == 'e' && cmdline[1] == 'x' && cmdline[2] == 'i' && cmdline[3] == 't' &&
               cmdline[4] == '=') {
        int n = 0;
        for (const char *c = cmdline + 5; *c >= '0' && *c <= '9'; c++)
            n = n * 10 + (*c - '0');
        rt_puts("test_exit=");
        rt_putu((uint64_t)n);
        rt_puts("\n");
        return n;
    } else if (is(cmdline, "abort")) {
        rt_abort("test_abort");
    } else {
        return rt_puts("FAILURE: unknown action\n"), RT_EXIT_FAILURE;
    }
    rt_puts("FAILURE: the call returned ");
    rt_putx((uint64_t)r);
    rt_puts("\n");
    return RT_EXIT_FAILURE;
}
