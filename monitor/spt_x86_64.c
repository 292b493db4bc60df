/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5 spt guests on the process backend: boot info, yield's epoll set, the spt filter, entry. */
#include <asm/prctl.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "chan.h"  /* DEV_FD0: where the guest process holds its devices */
#include "linux.h" /* vm_process_child_exit/console, vm_process_on_fault */
#include "fsbase_x86_64.h"

/*
 * How an spt guest runs (Solo5's seccomp tender ABI, include/funk/abi/spt.h): the process
 * backend's guest process maps guest memory and the segments as for any guest, then, instead of
 * a hypercall entry, the guest makes Solo5 spt's system calls itself. The filter's first test is
 * the instruction pointer (as for Linux guests): a call from guest memory meets spt's rules only:
 *   pread64/pwrite64 on a block device's fd, size == its block size, offset <= capacity - size
 *   read/write on a net device's fd; epoll_pwait on the epoll fd, timerfd_settime on the timerfd
 *   clock_gettime(CLOCK_REALTIME|CLOCK_MONOTONIC); arch_prctl(ARCH_SET_FS)
 * and everything else traps. The SIGSYS handler serves two trapped calls: write(1, ...) is
 * console output (a channel frame to the supervisor, as a funk guest's PUTS) and exit_group(N)
 * ends the run as a halt with status N, so the supervisor gets the result frame. Any other
 * trapped call is a sandbox violation (the guest process ends; funk-monitor exits 1 for a
 * plain Solo5 guest). Calls from the monitor's own code meet the process backend's usual
 * program (the channel, fd 2, memory calls without PROT_EXEC) plus arch_prctl(SET_FS|GET_FS),
 * used by the handlers below on CPUs without FSGSBASE.
 *
 * The guest owns the FS base (arch_prctl(ARCH_SET_FS) for its TLS, as Solo5's bindings do): the
 * handlers' first instructions load the monitor's own before C code that uses TLS runs.
 */

static int spt_epoll_fd(const struct funk_vm *vm)
{
    return DEV_FD0 + (int)vm->ndev; /* right after the devices: spt guests have no ACCEL fd */
}

static int spt_timer_fd(const struct funk_vm *vm)
{
    return DEV_FD0 + (int)vm->ndev + 1;
}

void spt_stage(struct funk_vm *vm)
{
    struct spt_boot_info bi = {
        .mem_size = vm->mem_size,
        .kernel_end = vm->img.kernel_end,
        .cmdline = FUNK_CMDLINE_GPA,
        .mft = FUNK_MFT_GPA,
        .epollfd = spt_epoll_fd(vm),
        .timerfd = spt_timer_fd(vm),
    };
    memcpy(vm_gpa(vm, HVT_BOOT_INFO_GPA, sizeof bi), &bi, sizeof bi);
    /* The guest process holds attached device i at DEV_FD0 + i (chan.h): spt guests make
     * their device calls themselves, on these fds. */
    struct mft *m = vm_gpa(vm, FUNK_MFT_GPA, FUNK_MFT_MAX);
    for (unsigned i = 0; m && i < vm->ndev && i < m->entries; i++)
        if (vm->dev[i].fd >= 0)
            m->e[i].b.hostfd = DEV_FD0 + (int32_t)i;
}

/* ---- The filter -------------------------------------------------------------------------- */

#define ARG_LO(i) ((uint32_t)offsetof(struct seccomp_data, args[i]))
#define ARG_HI(i) (ARG_LO(i) + 4)

struct bpf_build {
    struct sock_filter *p;
    unsigned n, cap;
    unsigned pend[8]; /* jumps to the next rule: index | PEND_JT when the true branch jumps */
    unsigned npend;
    bool bad;
};
#define PEND_JT 0x80000000u

static void put(struct bpf_build *b, struct sock_filter f)
{
    if (b->n < b->cap)
        b->p[b->n] = f;
    else
        b->bad = true;
    b->n++;
}

static void ld(struct bpf_build *b, uint32_t off)
{
    put(b, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off));
}

static void ret(struct bpf_build *b, uint32_t action)
{
    put(b, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action));
}

static void pend(struct bpf_build *b, unsigned v)
{
    if (b->npend < sizeof b->pend / sizeof b->pend[0])
        b->pend[b->npend++] = v;
    else
        b->bad = true;
}

/* A != k: on to the next rule. */
static void need_eq(struct bpf_build *b, uint32_t k)
{
    pend(b, b->n);
    put(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0));
}

/* A > k: on to the next rule. */
static void need_le(struct bpf_build *b, uint32_t k)
{
    pend(b, b->n | PEND_JT);
    put(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, k, 0, 0));
}

/* Ends a rule: its failed tests land here. */
static void next_rule(struct bpf_build *b)
{
    for (unsigned i = 0; i < b->npend; i++) {
        unsigned at = b->pend[i] & ~PEND_JT, off = b->n - at - 1;
        if (off > 255 || at >= b->cap) {
            b->bad = true;
            continue;
        }
        if (b->pend[i] & PEND_JT)
            b->p[at].jt = (uint8_t)off;
        else
            b->p[at].jf = (uint8_t)off;
    }
    b->npend = 0;
}

/* nr(fd, ...) allowed: the fd is an int (the kernel uses the low 32 bits). */
static void rule_fd(struct bpf_build *b, int nr, int fd)
{
    ld(b, offsetof(struct seccomp_data, nr));
    need_eq(b, (uint32_t)nr);
    ld(b, ARG_LO(0));
    need_eq(b, (uint32_t)fd);
    ret(b, SECCOMP_RET_ALLOW);
    next_rule(b);
}

/* pread64/pwrite64(fd, buf, block_size, offset <= capacity - block_size): 64-bit compares. */
static void rule_block(struct bpf_build *b, int nr, int fd, uint32_t bs, uint64_t last)
{
    ld(b, offsetof(struct seccomp_data, nr));
    need_eq(b, (uint32_t)nr);
    ld(b, ARG_LO(0));
    need_eq(b, (uint32_t)fd);
    ld(b, ARG_HI(2));
    need_eq(b, 0);
    ld(b, ARG_LO(2));
    need_eq(b, bs);
    ld(b, ARG_HI(3));
    need_le(b, (uint32_t)(last >> 32));
    /* high word below: allowed; equal: the low word decides */
    put(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(last >> 32), 0, 2));
    ld(b, ARG_LO(3));
    need_le(b, (uint32_t)last);
    ret(b, SECCOMP_RET_ALLOW);
    next_rule(b);
}

int spt_filter(const struct funk_vm *vm, const struct sock_fprog *base, struct sock_fprog *out)
{
    static struct sock_filter prog[BPF_MAXINSNS];
    if (!base)
        return -EINVAL;
    struct bpf_build b = {.p = prog, .cap = BPF_MAXINSNS};
    /* Native x86-64 calls only (int $0x80 and x32 trap, from anywhere). */
    ld(&b, offsetof(struct seccomp_data, arch));
    put(&b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
    ret(&b, SECCOMP_RET_TRAP);
    ld(&b, offsetof(struct seccomp_data, nr));
    put(&b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));
    ret(&b, SECCOMP_RET_TRAP);
    /* From guest memory (ip < mem_size; nothing of the monitor, a PIE, lies below it)? Else a
     * long jump (BPF_JA, 32-bit offset) to the monitor's part. */
    uint32_t ip = offsetof(struct seccomp_data, instruction_pointer);
    uint64_t hi = vm->mem_size;
    ld(&b, ip + 4);
    put(&b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0));
    unsigned ja1 = b.n;
    put(&b, (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0));
    ld(&b, ip);
    put(&b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
                                         hi >= (1ull << 32) ? 0xffffffffu : (uint32_t)hi, 0, 1));
    unsigned ja2 = b.n;
    put(&b, (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0));
    /* The guest's calls: Solo5 spt's set. */
    for (unsigned i = 0; i < vm->ndev; i++) {
        if (vm->dev[i].fd < 0)
            continue;
        int fd = DEV_FD0 + (int)i;
        if (vm->dev[i].type == MFT_DEV_BLOCK_BASIC) {
            uint64_t last = vm->dev[i].capacity - vm->dev[i].block_size;
            rule_block(&b, SYS_pread64, fd, vm->dev[i].block_size, last);
            rule_block(&b, SYS_pwrite64, fd, vm->dev[i].block_size, last);
        } else {
            rule_fd(&b, SYS_read, fd);
            rule_fd(&b, SYS_write, fd);
        }
    }
    rule_fd(&b, SYS_epoll_pwait, spt_epoll_fd(vm));
    rule_fd(&b, SYS_timerfd_settime, spt_timer_fd(vm));
    rule_fd(&b, SYS_clock_gettime, CLOCK_REALTIME);
    rule_fd(&b, SYS_clock_gettime, CLOCK_MONOTONIC);
    rule_fd(&b, SYS_arch_prctl, ARCH_SET_FS);
    /* write(1) (console) and exit_group (halt) are served by the handler; the rest refused. */
    ret(&b, SECCOMP_RET_TRAP);
    /* The monitor's own calls: arch_prctl(SET_FS|GET_FS) (FS swaps without FSGSBASE), then the
     * process backend's program. */
    unsigned mon = b.n;
    rule_fd(&b, SYS_arch_prctl, ARCH_SET_FS);
    rule_fd(&b, SYS_arch_prctl, ARCH_GET_FS);
    if (b.bad || b.n + base->len > BPF_MAXINSNS)
        return -E2BIG;
    prog[ja1].k = mon - ja1 - 1;
    prog[ja2].k = mon - ja2 - 1;
    memcpy(prog + b.n, base->filter, base->len * sizeof *prog);
    out->len = (unsigned short)(b.n + base->len);
    out->filter = prog;
    return 0;
}

/* ---- The guest process side -------------------------------------------------------------- */

static uint64_t monitor_fs, guest_hi;
static int have_fsgsbase;

static inline __attribute__((always_inline)) uint64_t fs_get(void)
{
    return fsbase_get(have_fsgsbase);
}

static inline __attribute__((always_inline)) void fs_set(uint64_t v)
{
    fsbase_set(have_fsgsbase, v);
}

/* A trapped call: console output, the halt, or a sandbox violation. */
static void serve(int sig, siginfo_t *si, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    uint64_t at = (uint64_t)(uintptr_t)si->si_call_addr;
    bool guest = at >= PROCESS_MEM_BASE && at <= guest_hi && si->si_arch == AUDIT_ARCH_X86_64;
    if (guest && si->si_syscall == SYS_write && (uint64_t)g[REG_RDI] == 1) {
        uint64_t p = (uint64_t)g[REG_RSI], n = (uint64_t)g[REG_RDX];
        if (p < PROCESS_MEM_BASE || p > guest_hi || n > guest_hi - p) {
            g[REG_RAX] = -EFAULT; /* not inside guest memory: never the monitor's bytes */
            return;
        }
        vm_process_child_console((const char *)(uintptr_t)p, (size_t)n);
        g[REG_RAX] = (greg_t)n;
        return;
    }
    if (guest && si->si_syscall == SYS_exit_group) {
        int status = (int)(g[REG_RDI] & 0xff); /* what the kernel's exit_group keeps */
        char why[48];
        snprintf(why, sizeof why, "guest halted with status %d", status); /* as HALT says */
        vm_process_child_exit(FUNK_VM_EXIT_HALT, status, why);
    }
    vm_process_on_fault(sig, si, uc); /* a forbidden call: does not return */
}

static RAW_ENTRY void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    uint64_t fs = fs_get();
    fs_set(monitor_fs);
    serve(sig, si, uc);
    fs_set(fs);
}

static RAW_ENTRY void on_fault(int sig, siginfo_t *si, void *uc)
{
    fs_set(monitor_fs);
    vm_process_on_fault(sig, si, uc); /* does not return */
}

/* Ends the guest process (vm_process_child_exit never returns; see linux.h on noreturn). */
static void setup_failed(const char *what)
{
    char why[160];
    snprintf(why, sizeof why, "spt: %s failed: %s", what, strerror(errno));
    vm_process_child_exit(FUNK_VM_EXIT_INTERNAL, 0, why);
}

/* Opens fd at exactly `want` (above the devices; lower numbers may be free). */
static void place_fd(int fd, int want, const char *what)
{
    if (fd < 0)
        setup_failed(what);
    if (fd != want) {
        if (dup2(fd, want) != want)
            setup_failed(what);
        close(fd);
    }
}

void spt_guest_enter(struct funk_vm *vm)
{
    /* solo5_yield's epoll set: the timerfd and every net device (data = manifest index). */
    int ep = spt_epoll_fd(vm), tf = spt_timer_fd(vm);
    place_fd(epoll_create1(0), ep, "epoll_create1");
    place_fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), tf, "timerfd_create");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SPT_INTERNAL_TIMERFD};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, tf, &ev) != 0)
        setup_failed("epoll_ctl(timerfd)");
    for (unsigned i = 0; i < vm->ndev; i++) {
        if (vm->dev[i].fd < 0 || vm->dev[i].type != MFT_DEV_NET_BASIC)
            continue;
        ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, vm->dev[i].fd, &ev) != 0)
            setup_failed("epoll_ctl(net)");
    }
    /* The handlers that know about the guest's FS base replace the generic ones. */
    have_fsgsbase = (getauxval(AT_HWCAP2) & 2) != 0; /* HWCAP2_FSGSBASE */
    monitor_fs = fs_get();
    guest_hi = vm->mem_size;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    sa.sa_sigaction = on_sigsys;
    sigaction(SIGSYS, &sa, NULL);
    if (vm_process_sandbox(vm) != 0)
        vm_process_child_exit(FUNK_VM_EXIT_INTERNAL, 0, "process backend: seccomp set-up failed");
    /* Solo5's spt_launch: %rdi = the boot info, %rsp = mem_size - 8, frame pointer cleared.
     * The guest starts with FS base 0, not the monitor's TLS: a guest that uses TLS before
     * setting it up faults instead of writing into the monitor's thread block. (No C code that
     * touches TLS runs between here and the jump.) */
    uint64_t entry = vm->img.entry, sp = vm->mem_size - 8;
    fs_set(0);
    /* Nothing of the monitor's state goes along: every other general-purpose and SSE register
     * is cleared, so the guest starts without a pointer into the monitor's (randomised) text,
     * heap or stack. (%rax keeps the entry, a guest address.) */
    __asm__ volatile("mov %0, %%rsp\n\t"
                     "mov %1, %%rax\n\t"
                     "xor %%ebx, %%ebx\n\t"
                     "xor %%ecx, %%ecx\n\t"
                     "xor %%edx, %%edx\n\t"
                     "xor %%esi, %%esi\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "xor %%r8d, %%r8d\n\t"
                     "xor %%r9d, %%r9d\n\t"
                     "xor %%r10d, %%r10d\n\t"
                     "xor %%r11d, %%r11d\n\t"
                     "xor %%r12d, %%r12d\n\t"
                     "xor %%r13d, %%r13d\n\t"
                     "xor %%r14d, %%r14d\n\t"
                     "xor %%r15d, %%r15d\n\t"
                     "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
                     "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
                     "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
                     "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
                     "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\t"
                     "pxor %%xmm15, %%xmm15\n\t"
                     "mov %2, %%edi\n\t"
                     "jmp *%%rax\n\t"
                     :
                     : "r"(sp), "r"(entry), "i"(HVT_BOOT_INFO_GPA)
                     : "memory");
    __builtin_unreachable();
}
