/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal Solo5-style runtime for funk's test unikernels: entry, console, traps, TLS, stack
 * protector, manifest, time, block I/O. Freestanding guest code, built twice: for hvt
 * (hypercalls with outl only) and, with -DRT_SPT, for spt (the raw Linux system calls Solo5's
 * spt bindings make, and nothing else). */
#include "rt.h"

static const struct mft *rt_mft;
static int quiet;
static char cmdline[HVT_CMDLINE_SIZE];

#ifdef RT_SPT
#include <funk/abi/spt.h>

static const struct spt_boot_info *spt_boot;
/* The notes Solo5's toolchain puts into every spt unikernel (the manifest is per test). */
SPT_ABI1_NOTE_DECLARE();

long rt_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ __volatile__("syscall"
                         : "=a"(r)
                         : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
    return r;
}
#else
const struct hvt_boot_info *rt_boot;
/* The notes Solo5's toolchain puts into every hvt unikernel (the manifest is per test). */
HVT_ABI1_NOTE_DECLARE();
#endif
__attribute__((section(".interp"), used)) static const char interp[] = "/nonexistent/solo5/";
/* Solo5 adds an OpenBSD note so OpenBSD refuses to exec the unikernel on the host. */
__attribute__((section(".note.solo5.not_openbsd"), aligned(4), used)) static const struct {
    uint32_t namesz, descsz, type;
    char name[8];
    uint32_t desc;
} openbsd_note = {8, 4, 1, "OpenBSD", 0};

void *rt_memcpy(void *d, const void *s, size_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *rt_memset(void *d, int c, size_t n)
{
    uint8_t *dp = d;
    while (n--)
        *dp++ = (uint8_t)c;
    return d;
}

/* What the compiler may call for struct copies and zeroing. */
void *memcpy(void *d, const void *s, size_t n) __attribute__((alias("rt_memcpy")));
void *memset(void *d, int c, size_t n) __attribute__((alias("rt_memset")));

size_t rt_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int rt_strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

void rt_puts(const char *s)
{
#ifdef RT_SPT
    rt_syscall(RT_SYS_write, 1, (long)s, (long)rt_strlen(s), 0, 0, 0);
#else
    struct hvt_hc_puts a = {.data = s, .len = rt_strlen(s)};
    hvt_do_hypercall(HVT_HYPERCALL_PUTS, &a);
#endif
}

void rt_putx(uint64_t v)
{
    char b[19] = "0x";
    int n = 0;
    for (int sh = 60; sh >= 0; sh -= 4) {
        unsigned d = (unsigned)(v >> sh) & 15;
        if (d || n || sh == 0)
            b[2 + n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    }
    b[2 + n] = '\0';
    rt_puts(b);
}

void rt_putu(uint64_t v)
{
    char b[21];
    int i = 20;
    b[i] = '\0';
    do
        b[--i] = (char)('0' + v % 10);
    while (v /= 10);
    rt_puts(b + i);
}

void rt_exit(int status, void *cookie)
{
    if (!quiet) {
        rt_puts("Solo5: solo5_exit(");
        rt_putu((uint64_t)status);
        rt_puts(") called\n");
    }
    for (;;) {
#ifdef RT_SPT
        (void)cookie;
        rt_syscall(RT_SYS_exit_group, status, 0, 0, 0, 0, 0);
#else
        struct hvt_hc_halt a = {.cookie = cookie, .exit_status = status};
        hvt_do_hypercall(HVT_HYPERCALL_HALT, &a);
#endif
    }
}

void rt_abort(const char *why)
{
    rt_puts("Solo5: ABORT: ");
    rt_puts(why);
    rt_puts("\n");
    rt_exit(RT_EXIT_ABORT, 0);
}

#ifndef RT_SPT /* spt: a CPU exception is a signal in the tender's process, no IDT */
/* ---- Traps: abort with the trap frame as HALT's cookie (Solo5's x86_trap_regs layout). ---- */
struct trap_regs {
    uint64_t cr2, ec, rip, cs, rflags, rsp, ss;
};
static struct trap_regs trap_cookie;

void rt_trap(const uint64_t *frame) __attribute__((noreturn));
void rt_trap(const uint64_t *frame)
{
    static const char *const names[] = {"#DE", "#DB", "#NMI", "#BP", "#OF", "#BR", "#UD",
                                        "#NM", "#DF", "#09",  "#TS", "#NP", "#SS", "#GP",
                                        "#PF", "#15", "#MF",  "#AC", "#MC", "#XM", "#VE"};
    uint64_t cr2;
    __asm__ __volatile__("movq %%cr2, %0" : "=r"(cr2));
    trap_cookie =
        (struct trap_regs){cr2, frame[1], frame[2], frame[3], frame[4], frame[5], frame[6]};
    rt_puts("Solo5: trap: type=");
    rt_puts(frame[0] < 21 ? names[frame[0]] : "?");
    rt_puts(" ec=");
    rt_putx(frame[1]);
    rt_puts(" rip=");
    rt_putx(frame[2]);
    rt_puts(" rsp=");
    rt_putx(frame[5]);
    if (frame[0] == 14) {
        rt_puts(" cr2=");
        rt_putx(cr2);
    }
    rt_puts("\nSolo5: ABORT: cpu_x86_64.c: Fatal trap\n");
    rt_exit(RT_EXIT_ABORT, &trap_cookie);
}

extern void (*const rt_trap_table[21])(void);
static uint64_t idt[21 * 2] __attribute__((aligned(16)));

static void idt_init(void)
{
    uint16_t cs;
    __asm__ __volatile__("movw %%cs, %0" : "=r"(cs));
    for (unsigned v = 0; v < 21; v++) {
        uint64_t h = (uint64_t)(uintptr_t)rt_trap_table[v];
        idt[v * 2] =
            (h & 0xffff) | ((uint64_t)cs << 16) | (0x8eull << 40) | (((h >> 16) & 0xffff) << 48);
        idt[v * 2 + 1] = h >> 32;
    }
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } p = {sizeof idt - 1, (uint64_t)(uintptr_t)idt};
    __asm__ __volatile__("lidt %0" : : "m"(p));
}
#endif

/* ---- Stack protector (-mstack-protector-guard=global). ---- */
uintptr_t __stack_chk_guard = 0x00f0e0d0c0b0a090ull;

void __stack_chk_fail(void) __attribute__((noreturn));
void __stack_chk_fail(void)
{
    rt_abort("stack smashing detected");
}

/* ---- Manifest, time ---- */
int rt_device(const char *name, uint32_t type, const struct mft_entry **e)
{
    const struct mft *m = rt_mft;
    for (uint32_t i = 0; i < m->entries; i++)
        if (m->e[i].type == type && rt_strcmp(m->e[i].name, name) == 0) {
            *e = &m->e[i];
            return (int)i;
        }
    return -1;
}

#ifdef RT_SPT
struct rt_timespec {
    int64_t sec, nsec;
};

static uint64_t clock_ns(int clock)
{
    struct rt_timespec ts = {0, 0};
    rt_syscall(RT_SYS_clock_gettime, clock, (long)&ts, 0, 0, 0, 0);
    return (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
}

uint64_t rt_walltime_ns(void)
{
    return clock_ns(0); /* CLOCK_REALTIME */
}

uint64_t rt_monotonic_ns(void)
{
    return clock_ns(1); /* CLOCK_MONOTONIC */
}

/* solo5_yield as Solo5's spt bindings do it: arm the timerfd, wait on the epoll set. */
uint64_t rt_poll(uint64_t ns)
{
    struct {
        struct rt_timespec interval, value;
    } its = {{0, 0}, {(int64_t)(ns / 1000000000ull), (int64_t)(ns % 1000000000ull)}};
    struct __attribute__((packed)) {
        uint32_t events;
        uint64_t data;
    } ev[8];
    long timeout = -1;
    if (ns == 0)
        timeout = 0;
    else if (rt_syscall(RT_SYS_timerfd_settime, spt_boot->timerfd, 0, (long)&its, 0, 0, 0) != 0)
        rt_abort("timerfd_settime failed");
    long n = rt_syscall(RT_SYS_epoll_pwait, spt_boot->epollfd, (long)ev, 8, timeout, 0, 8);
    uint64_t ready = 0;
    for (long i = 0; i < n; i++)
        if (ev[i].data < 64)
            ready |= 1ull << ev[i].data;
    return ready;
}

/* solo5_block_read/write: the bindings check the request, then one call per block. */
int rt_block_io(int write, int h, uint64_t off, void *buf, uint64_t len)
{
    const struct mft_entry *e = &rt_mft->e[h];
    uint64_t bs = e->u.block_basic.block_size, cap = e->u.block_basic.capacity;
    if (len != bs || off % bs || off > cap - bs)
        return HVT_R_EINVAL;
    long r = rt_syscall(write ? RT_SYS_pwrite64 : RT_SYS_pread64, e->b.hostfd, (long)buf, (long)len,
                        (long)off, 0, 0);
    return r == (long)len ? HVT_R_OK : HVT_R_EUNSPEC;
}
/* solo5_net_read/write as Solo5's spt bindings do it: the tap fd is non-blocking. */
int rt_net_read(int h, void *buf, uint64_t len, uint64_t *got)
{
    const struct mft_entry *e = &rt_mft->e[h];
    if (len < (uint64_t)e->u.net_basic.mtu + 14)
        return HVT_R_EINVAL;
    long r = rt_syscall(RT_SYS_read, e->b.hostfd, (long)buf, (long)len, 0, 0, 0);
    if (r == -11) /* EAGAIN */
        return HVT_R_AGAIN;
    if (r < 0)
        return HVT_R_EUNSPEC;
    *got = (uint64_t)r;
    return HVT_R_OK;
}

int rt_net_write(int h, const void *buf, uint64_t len)
{
    const struct mft_entry *e = &rt_mft->e[h];
    if (len > (uint64_t)e->u.net_basic.mtu + 14)
        return HVT_R_EINVAL;
    long r = rt_syscall(RT_SYS_write, e->b.hostfd, (long)buf, (long)len, 0, 0, 0);
    return r == (long)len ? HVT_R_OK : HVT_R_EUNSPEC;
}
#else
int rt_net_read(int h, void *buf, uint64_t len, uint64_t *got)
{
    struct hvt_hc_net_read r = {.handle = (uint64_t)h, .data = buf, .len = len};
    hvt_do_hypercall(HVT_HYPERCALL_NET_READ, &r);
    *got = r.len;
    return r.ret;
}

int rt_net_write(int h, const void *buf, uint64_t len)
{
    struct hvt_hc_net_write w = {.handle = (uint64_t)h, .data = buf, .len = len};
    hvt_do_hypercall(HVT_HYPERCALL_NET_WRITE, &w);
    return w.ret;
}

uint64_t rt_walltime_ns(void)
{
    struct hvt_hc_walltime a = {0};
    hvt_do_hypercall(HVT_HYPERCALL_WALLTIME, &a);
    return a.nsecs;
}

uint64_t rt_monotonic_ns(void)
{
    uint64_t f = rt_boot->cpu_cycle_freq;
    if (!f)
        return rt_walltime_ns();
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t t = ((uint64_t)hi << 32) | lo;
    return t / f * 1000000000ull + (t % f) * 1000000000ull / f;
}

uint64_t rt_poll(uint64_t ns)
{
    struct hvt_hc_poll a = {.timeout_nsecs = ns};
    hvt_do_hypercall(HVT_HYPERCALL_POLL, &a);
    return a.ready_set;
}

int rt_block_io(int write, int h, uint64_t off, void *buf, uint64_t len)
{
    if (write) {
        struct hvt_hc_block_write a = {
            .handle = (uint64_t)h, .offset = off, .data = buf, .len = len};
        hvt_do_hypercall(HVT_HYPERCALL_BLOCK_WRITE, &a);
        return a.ret;
    }
    struct hvt_hc_block_read a = {.handle = (uint64_t)h, .offset = off, .data = buf, .len = len};
    hvt_do_hypercall(HVT_HYPERCALL_BLOCK_READ, &a);
    return a.ret;
}
#endif

/* ---- TLS (x86_64 variant II: the thread pointer follows the block and points to itself). ---- */
extern char _stdata[], _ltdata[], _ltbss[], _tls_align[];

/* The linker places thread-local variables at negative offsets from the thread pointer, the
 * TLS segment's size rounded up to its alignment. */
static size_t tls_span(void)
{
    size_t a = (size_t)(uintptr_t)_tls_align,
           n = (size_t)(uintptr_t)_ltdata + (size_t)(uintptr_t)_ltbss;
    return a > 1 ? (n + a - 1) & ~(a - 1) : n;
}

size_t rt_tls_size(void)
{
    return tls_span() + sizeof(uintptr_t);
}

uintptr_t rt_tls_init(void *block)
{
    uintptr_t tp = (uintptr_t)block + tls_span();
    rt_memcpy(block, _stdata, (size_t)(uintptr_t)_ltdata);
    rt_memset((char *)block + (uintptr_t)_ltdata, 0, tls_span() - (size_t)(uintptr_t)_ltdata);
    *(uintptr_t *)tp = tp;
    return tp;
}

void rt_set_tls_base(uintptr_t tp)
{
#ifdef RT_SPT
    if (rt_syscall(RT_SYS_arch_prctl, 0x1002 /* ARCH_SET_FS */, (long)tp, 0, 0, 0, 0) != 0)
        rt_abort("arch_prctl(ARCH_SET_FS) failed");
    return;
#endif
    __asm__ __volatile__("wrmsr"
                         :
                         : "c"(0xc0000100u), "a"((uint32_t)tp), "d"((uint32_t)(tp >> 32)));
}

/* ---- Entry: %rdi = boot info, %rsp = top of memory (set by the tender). ---- */
#ifdef RT_SPT
/* The registers the tender handed over besides %rdi/%rsp/%rip (sandbox.c checks that none
 * carries a host value): rax rbx rcx rdx rsi rbp r8..r15, then the low words of xmm0..15. */
uint64_t rt_entry_regs[14 + 16];
__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "  mov %rax, rt_entry_regs+0(%rip)\n"
        "  mov %rbx, rt_entry_regs+8(%rip)\n"
        "  mov %rcx, rt_entry_regs+16(%rip)\n"
        "  mov %rdx, rt_entry_regs+24(%rip)\n"
        "  mov %rsi, rt_entry_regs+32(%rip)\n"
        "  mov %rbp, rt_entry_regs+40(%rip)\n"
        "  mov %r8, rt_entry_regs+48(%rip)\n"
        "  mov %r9, rt_entry_regs+56(%rip)\n"
        "  mov %r10, rt_entry_regs+64(%rip)\n"
        "  mov %r11, rt_entry_regs+72(%rip)\n"
        "  mov %r12, rt_entry_regs+80(%rip)\n"
        "  mov %r13, rt_entry_regs+88(%rip)\n"
        "  mov %r14, rt_entry_regs+96(%rip)\n"
        "  mov %r15, rt_entry_regs+104(%rip)\n"
        "  movq %xmm0, rt_entry_regs+112(%rip)\n"
        "  movq %xmm1, rt_entry_regs+120(%rip)\n"
        "  movq %xmm2, rt_entry_regs+128(%rip)\n"
        "  movq %xmm3, rt_entry_regs+136(%rip)\n"
        "  movq %xmm4, rt_entry_regs+144(%rip)\n"
        "  movq %xmm5, rt_entry_regs+152(%rip)\n"
        "  movq %xmm6, rt_entry_regs+160(%rip)\n"
        "  movq %xmm7, rt_entry_regs+168(%rip)\n"
        "  movq %xmm8, rt_entry_regs+176(%rip)\n"
        "  movq %xmm9, rt_entry_regs+184(%rip)\n"
        "  movq %xmm10, rt_entry_regs+192(%rip)\n"
        "  movq %xmm11, rt_entry_regs+200(%rip)\n"
        "  movq %xmm12, rt_entry_regs+208(%rip)\n"
        "  movq %xmm13, rt_entry_regs+216(%rip)\n"
        "  movq %xmm14, rt_entry_regs+224(%rip)\n"
        "  movq %xmm15, rt_entry_regs+232(%rip)\n"
        "  jmp rt_start\n");

__attribute__((no_stack_protector, noreturn, used)) void rt_start(const struct spt_boot_info *bi);
__attribute__((no_stack_protector, noreturn, used)) void rt_start(const struct spt_boot_info *bi)
{
    spt_boot = bi;
#else
__attribute__((no_stack_protector, noreturn)) void _start(const struct hvt_boot_info *bi)
{
    rt_boot = bi;
    idt_init();
#endif
    rt_mft = (const struct mft *)(uintptr_t)bi->mft;
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    __stack_chk_guard ^= ((uintptr_t)hi << 32 | lo) << 8; /* low byte stays 0 */
    /* Copy the command line without the --solo5: options (Solo5's bindings consume them). */
    const char *c = (const char *)(uintptr_t)bi->cmdline;
    size_t n = 0;
    while (*c) {
        while (*c == ' ')
            c++;
        const char *w = c;
        while (*c && *c != ' ')
            c++;
        size_t l = (size_t)(c - w);
        if (l >= 8 && w[0] == '-' && w[1] == '-' && w[2] == 's' && w[3] == 'o' && w[4] == 'l' &&
            w[5] == 'o' && w[6] == '5' && w[7] == ':') {
            if (l == 13 && w[8] == 'q' && w[9] == 'u' && w[10] == 'i' && w[11] == 'e' &&
                w[12] == 't')
                quiet = 1;
            continue;
        }
        if (l && n + l + 2 < sizeof cmdline) {
            if (n)
                cmdline[n++] = ' ';
            rt_memcpy(cmdline + n, w, l);
            n += l;
        }
    }
    cmdline[n] = '\0';
    if (!quiet) {
#ifdef RT_SPT
        rt_puts("Solo5: funk test bindings (spt ABI v2)\n");
#else
        rt_puts("Solo5: funk test bindings (hvt ABI v2)\n");
#endif
        rt_puts("Solo5: mem_size=");
        rt_putx(bi->mem_size);
        rt_puts(" kernel_end=");
        rt_putx(bi->kernel_end);
        rt_puts("\n");
    }
    rt_exit(app_main(cmdline), 0);
}
