/* SPDX-License-Identifier: Apache-2.0 */
/* Linux personality, x86-64 side: initial stack (argv/envp/auxv), the trap filter, SIGSYS entry. */
#include <asm/prctl.h>
#include <cpuid.h>
#include <elf.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "linux.h"
#include "fsbase_x86_64.h"

/*
 * How a Linux guest runs: guest code executes natively in the guest process, at its own
 * addresses inside guest memory. Every system call it makes traps: the filter's first test is the
 * instruction pointer, and a call from inside guest memory gets SECCOMP_RET_TRAP whatever its
 * number, so nothing the guest asks for reaches the host kernel as such. The SIGSYS handler (on
 * the monitor's alternate stack) serves it from the personality (linux_syscall.c), writes the
 * result into %rax of the saved context and returns; the kernel resumes the guest after its
 * `syscall` instruction. Calls from the monitor's own code (outside guest memory) meet the
 * process backend's usual minimal program, plus arch_prctl(SET_FS/GET_FS) where the CPU lacks
 * FSGSBASE and getrandom (no file, no process, no socket).
 *
 * The guest owns the FS base (its TLS). The handler's first instructions save it and load the
 * monitor's own (glibc's TLS: errno, stack protector, sanitizer state) before any C code that
 * uses TLS runs, and put the guest's back (possibly changed by arch_prctl) on the way out.
 */

static uint64_t monitor_fs;
static int have_fsgsbase;
uint64_t linux_guest_fs;

static inline __attribute__((always_inline)) uint64_t fs_get(void)
{
    return fsbase_get(have_fsgsbase);
}

static inline __attribute__((always_inline)) void fs_set(uint64_t v)
{
    fsbase_set(have_fsgsbase, v);
}

static uint64_t guest_lo, guest_hi; /* guest memory: calls from here are the guest's */

static void serve(siginfo_t *si, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    uint64_t at = (uint64_t)(uintptr_t)si->si_call_addr;
    if (at < guest_lo || at > guest_hi) {
        /* The monitor's own code made a forbidden call: a sandbox violation as ever. */
        vm_process_on_fault(SIGSYS, si, uc);
        return;
    }
    struct linux_regs r = {.nr = (uint64_t)(unsigned)si->si_syscall,
                           .a = {(uint64_t)g[REG_RDI], (uint64_t)g[REG_RSI], (uint64_t)g[REG_RDX],
                                 (uint64_t)g[REG_R10], (uint64_t)g[REG_R8], (uint64_t)g[REG_R9]}};
    if (si->si_arch != AUDIT_ARCH_X86_64 || (r.nr & 0x40000000u))
        r.nr = ~0ull; /* int $0x80 or x32: not served (ENOSYS) */
    g[REG_RAX] = (greg_t)linux_syscall(&r);
}

static RAW_ENTRY void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    uint64_t fs = fs_get();
    fs_set(monitor_fs);
    linux_guest_fs = fs;
    (void)sig;
    serve(si, uc);
    fs_set(linux_guest_fs);
}

static RAW_ENTRY void on_fault(int sig, siginfo_t *si, void *uc)
{
    fs_set(monitor_fs);
    vm_process_on_fault(sig, si, uc); /* does not return */
}

int linux_filter(const struct funk_vm *vm, const struct sock_fprog *base, struct sock_fprog *out)
{
    static struct sock_filter prog[BPF_MAXINSNS];
    enum { PRE = 12 };
    if (!base || base->len + PRE > BPF_MAXINSNS)
        return -E2BIG;
    uint64_t hi = vm->mem_size; /* guest memory is [PROCESS_MEM_BASE, mem_size) */
    uint32_t ip_lo = offsetof(struct seccomp_data, instruction_pointer);
    unsigned k = 0;
    /* 0..3: a call from guest memory (ip < mem_size; nothing of the monitor lies below it) */
    prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip_lo + 4);
    prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3); /* hi != 0 */
    prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip_lo);
    prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
                                             hi >= (1ull << 32) ? 0xffffffffu : (uint32_t)hi, 1, 0);
    prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
    /* 5..: the monitor's extra calls: getrandom; arch_prctl(ARCH_SET_FS|ARCH_GET_FS). */
    prog[k++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrandom, 4, 0);
    prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_arch_prctl, 0, 4);
    prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, args[0]));
    prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_SET_FS, 1, 0);
    prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_GET_FS, 0, 1);
    prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    _Static_assert(PRE == 12, "prefix length");
    memcpy(prog + k, base->filter, base->len * sizeof *prog);
    out->len = (unsigned short)(k + base->len);
    out->filter = prog;
    return 0;
}

/* mprotect in runs of pages with the same protection (one call per run, not per page); a
 * negative prot flushes the pending run. */
static void prot_range(uint64_t page, int prot)
{
    static uint64_t start, end;
    static int cur = -1;
    if (prot == cur && page == end) {
        end += 4096;
        return;
    }
    if (cur >= 0 && end > start)
        mprotect((void *)(uintptr_t)start, end - start, cur);
    start = page;
    end = page + 4096;
    cur = prot;
}

/* True when file page fp of the image belongs to a segment other than `self`. */
static bool page_shared(const struct funk_vm *vm, unsigned self, uint64_t fp)
{
    for (unsigned j = 0; j < vm->img.nseg; j++) {
        const struct elf_segment *t = &vm->img.seg[j];
        if (j != self && t->filesz && fp + 4096 > t->offset && fp < t->offset + t->filesz)
            return true;
    }
    return false;
}

/*
 * The segments into guest memory. A launched guest's image is a private mapping of the sealed
 * memfd, page-aligned: the whole file pages inside a segment (not shared with another one) are
 * moved to their guest address with mremap instead of copied, so a 2 MB busybox costs page-table
 * updates and only the pages the program touches get faulted in; the rest is copied. Bytes past
 * a segment's file size in its last moved page are zeroed (its bss), as Linux does.
 */
static void copy_segments(struct funk_vm *vm)
{
    bool can_move = vm->launched && ((uintptr_t)vm->elf_copy & 4095) == 0;
    for (unsigned i = 0; i < vm->img.nseg; i++) {
        const struct elf_segment *s = &vm->img.seg[i];
        if (!s->filesz)
            continue;
        uint64_t first = s->offset, last = s->offset; /* moved file bytes: [first, last) */
        if (can_move && (s->vaddr & 4095) == (s->offset & 4095)) {
            first = s->offset & ~4095ull;
            last = (s->offset + s->filesz + 4095) & ~4095ull;
            if (page_shared(vm, i, first))
                first += 4096;
            if (last > first && page_shared(vm, i, last - 4096))
                last -= 4096;
            if (last <= first) {
                first = last = s->offset;
            } else {
                uint64_t to = s->vaddr - s->offset + first;
                if (mremap(vm->elf_copy + first, last - first, last - first,
                           MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(uintptr_t)to) == MAP_FAILED)
                    first = last = s->offset; /* copy it all instead */
            }
        }
        uint64_t fend = s->offset + s->filesz;
        if (first == last) {
            memcpy((void *)(uintptr_t)s->vaddr, vm->elf_copy + s->offset, s->filesz);
            continue;
        }
        /* the bytes before and after the moved pages */
        if (first > s->offset)
            memcpy((void *)(uintptr_t)s->vaddr, vm->elf_copy + s->offset, first - s->offset);
        if (last < fend)
            memcpy((void *)(uintptr_t)(s->vaddr + (last - s->offset)), vm->elf_copy + last,
                   fend - last);
        else if (last > fend)
            memset((void *)(uintptr_t)(s->vaddr + s->filesz), 0, last - fend);
    }
}

/* Pushes bytes below *sp (inside the stack, which the caller sized); base: the host address of
 * guest address 0 (0: identity-mapped). */
static uint64_t push(uintptr_t base, uint64_t *sp, const void *p, size_t n)
{
    *sp -= n;
    memcpy((void *)(base + (uintptr_t)*sp), p, n);
    return *sp;
}

void linux_image_pages(const struct funk_vm *vm, int host_prot)
{
    /* The image at its addresses, page permissions as its segments say (never W+X: the loader
     * refused that), recorded in the personality's page map for mprotect and pointer checks. */
    for (unsigned i = 0; i < vm->img.nseg; i++) {
        const struct elf_segment *s = &vm->img.seg[i];
        uint64_t a = s->vaddr & ~4095ull, e = (s->vaddr + s->memsz + 4095) & ~4095ull;
        for (uint64_t p = a; p < e; p += 4096) {
            unsigned perm = s->perm;
            for (unsigned j = 0; j < vm->img.nseg; j++) { /* a shared page: the union */
                const struct elf_segment *t = &vm->img.seg[j];
                if (j != i && p < t->vaddr + t->memsz && t->vaddr < p + 4096)
                    perm |= t->perm;
            }
            int prot = ((perm & ELF_R) ? PROT_READ : 0) | ((perm & ELF_W) ? PROT_WRITE : 0) |
                       ((perm & ELF_X) ? PROT_EXEC | PROT_READ : 0);
            if (host_prot)
                prot_range(p, prot);
            linux_pages_set(p, 4096,
                            (uint8_t)(LX_IMAGE | ((prot & PROT_READ) ? LX_R : 0) |
                                      ((prot & PROT_WRITE) ? LX_W : 0) |
                                      ((prot & PROT_EXEC) ? LX_X : 0)));
        }
    }
    if (host_prot)
        prot_range(0, -1); /* flush */
}

int linux_stack_build(const struct funk_vm *vm, const struct linux_boot *lb, uintptr_t base,
                      uint64_t *sp_out)
{
    /* Strings, AT_RANDOM bytes and the platform name at the top, then the vectors. */
    uint64_t sp = vm->mem_size;
    uint64_t strs = push(base, &sp, lb->strings, lb->strings_len);
    uint8_t rnd[16];
    if (syscall(SYS_getrandom, rnd, sizeof rnd, 0) != (long)sizeof rnd)
        return -EIO;
    uint64_t at_random = push(base, &sp, rnd, sizeof rnd);
    uint64_t platform = push(base, &sp, "x86_64", 7);
    sp &= ~15ull;
    unsigned naux = 0;
    uint64_t aux[48];
    unsigned a, b, c, d = 0;
    __get_cpuid(1, &a, &b, &c, &d);
#define AUX(t, v) (aux[naux++] = (t), aux[naux++] = (uint64_t)(v))
    AUX(AT_PHDR, lb->phdr);
    AUX(AT_PHENT, lb->phent);
    AUX(AT_PHNUM, lb->phnum);
    AUX(AT_PAGESZ, 4096);
    AUX(AT_BASE, 0);
    AUX(AT_FLAGS, 0);
    AUX(AT_ENTRY, vm->img.entry);
    AUX(AT_UID, 65534);
    AUX(AT_EUID, 65534);
    AUX(AT_GID, 65534);
    AUX(AT_EGID, 65534);
    AUX(AT_SECURE, 0);
    AUX(AT_HWCAP, d);
    AUX(AT_HWCAP2, 0);
    AUX(AT_CLKTCK, 100);
    AUX(AT_PLATFORM, platform);
    AUX(AT_RANDOM, at_random);
    AUX(AT_EXECFN, strs); /* argv[0] */
    AUX(AT_NULL, 0);
#undef AUX
    uint64_t nvec = 1 + (lb->argc + 1) + (lb->envc + 1) + naux;
    if (nvec & 1)
        sp -= 8; /* %rsp 16-aligned at argc */
    sp -= nvec * 8;
    uint64_t k = 0;
    uint8_t *v = (uint8_t *)(base + (uintptr_t)sp);
#define PUT(x) (memcpy(v + 8 * k, &(uint64_t){(x)}, 8), k++)
    PUT(lb->argc);
    uint64_t s = strs;
    for (uint32_t i = 0; i < lb->argc + lb->envc; i++) {
        PUT(s);
        if (i + 1 == lb->argc)
            PUT(0);
        s += strlen((const char *)(base + (uintptr_t)s)) + 1;
    }
    if (lb->argc == 0)
        PUT(0);
    PUT(0);
#undef PUT
    memcpy(v + 8 * k, aux, naux * 8);
    *sp_out = sp;
    return 0;
}

void linux_guest_enter(struct funk_vm *vm, uint8_t *mem)
{
    const struct linux_boot *lb = (const struct linux_boot *)vm->staging;
    if (lb->magic != LINUX_BOOT_MAGIC)
        vm_process_child_exit(FUNK_VM_EXIT_INTERNAL, 0, "linux: boot area damaged");
    linux_syscall_process_start(vm->mem_size);
    vm->mem = mem;
    vm->mem_base = PROCESS_MEM_BASE;
    vm->mem_end = vm->mem_size;
    guest_lo = PROCESS_MEM_BASE;
    guest_hi = vm->mem_size;

    copy_segments(vm);
    linux_image_pages(vm, 1);
    /* The stack at the top of guest memory, a guard page below it. */
    uint64_t stack_lo = vm->mem_size - lb->stack_size;
    linux_pages_set(stack_lo, lb->stack_size, LX_STACK | LX_R | LX_W);
    mprotect((void *)(uintptr_t)(stack_lo - 4096), 4096, PROT_NONE);
    linux_pages_set(stack_lo - 4096, 4096, LX_STACK);
    linux_syscall_init(vm, lb, stack_lo - 4096);
    uint64_t sp;
    if (linux_stack_build(vm, lb, 0, &sp) != 0)
        vm_process_child_exit(FUNK_VM_EXIT_INTERNAL, 0, "linux: getrandom failed");

    /* Signals on the monitor's alternate stack, with the monitor's FS base restored first. */
    static uint8_t altstack[1 << 16] __attribute__((aligned(16)));
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sa.sa_sigaction = on_fault;
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    sa.sa_sigaction = on_sigsys;
    sigaction(SIGSYS, &sa, NULL);

    have_fsgsbase = (getauxval(AT_HWCAP2) & 2) != 0; /* HWCAP2_FSGSBASE: the kernel enabled it */
    monitor_fs = fs_get();
    if (vm_process_sandbox(vm) != 0)
        vm_process_child_exit(FUNK_VM_EXIT_INTERNAL, 0, "process backend: seccomp set-up failed");
    /* Enter with the registers Linux gives a new program: zero, %rsp at argc, FS base 0. */
    uint64_t entry = vm->img.entry;
    if (have_fsgsbase) {
        __asm__ volatile("wrfsbase %%rdi\n\t"
                         "mov %%rax, %%rsp\n\t"
                         "xor %%ebp, %%ebp\n\t"
                         "xor %%edx, %%edx\n\t"
                         "jmp *%%rcx\n\t"
                         :
                         : "a"(sp), "c"(entry), "D"(0ull)
                         : "rdx", "memory");
    } else {
        __asm__ volatile("mov %1, %%rbx\n\t"
                         "mov %0, %%rsp\n\t"
                         "mov %2, %%eax\n\t"
                         "mov %3, %%edi\n\t"
                         "xor %%esi, %%esi\n\t"
                         "syscall\n\t"
                         "xor %%ebp, %%ebp\n\t"
                         "xor %%edx, %%edx\n\t"
                         "jmp *%%rbx\n\t"
                         :
                         : "r"(sp), "r"(entry), "i"(SYS_arch_prctl), "i"(ARCH_SET_FS)
                         : "rbx", "rcx", "rdx", "r11", "memory");
    }
    for (;;) /* not reached */
        ;
}
