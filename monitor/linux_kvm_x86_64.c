/* SPDX-License-Identifier: Apache-2.0 */
/* Linux personality under KVM: the guest's privileged side, its page tables, syscall exits. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "elf_note.h"
#include "linux.h"
#include "vm_internal.h"

/*
 * The program runs in ring 3 at its own addresses: guest-virtual == guest-physical for guest
 * memory [0, mem_size), mapped with 4 KiB pages that follow the personality's page map exactly
 * (present only where the page map says readable, writable only where it says so, executable
 * only for the loaded text; user pages). The privileged side lives in a second memory slot at
 * LXK_GPA, above any guest memory, never writable by ring 3 and never reachable through a
 * pointer the personality accepts (those lie inside guest memory on page-map pages):
 *
 *   LXK_GPA + 0x0000  the system-call entry page (read and execute, ring 3 too): LSTAR's
 *                     `out %al, $0xf0 ; sysretq`, the CR3-reload path, int3 elsewhere
 *           + 0x1000  one stub per exception vector (supervisor, read and execute)
 *           + 0x2000  GDT (null, ring-0 code/data, ring-3 data/code, TSS), supervisor, read-only
 *           + 0x3000  IDT, 32 interrupt gates on IST1, supervisor, read-only
 *           + 0x4000  TSS (RSP0 and IST1 the stack below; an I/O bitmap), supervisor, read-only
 *           + 0x5000  the ring-0 stack for exceptions (2 pages), supervisor, not executable
 *           + 0x7000  page tables (not mapped at all)
 *
 * A `syscall` enters the entry page in ring 0 (STAR/LSTAR/FMASK; IF, TF, DF, AC masked) on the
 * program's own stack, which it never touches: its one instruction `out %al, $0xf0` exits to the
 * monitor, which reads %rax and %rdi..%r9, serves the call with linux_syscall.c, writes %rax and
 * resumes at `sysretq` (%rcx and %r11, which hold the return address and flags, are untouched).
 * When the call took permissions away from a page (munmap, mprotect, brk shrinking) the monitor
 * resumes at a path that reloads CR3 first, which costs a second exit.
 *
 * This project's hosts run a software KVM (PVM) whose emulated `syscall` jumps to LSTAR but stays
 * in ring 3 (it does not switch privilege), while ring-3 code runs natively (SSE included). For
 * that the entry page is user-executable and the TSS's I/O bitmap opens port 0xf0 (and no other)
 * to ring 3: the same `out` exits in ring 3, and the monitor, seeing CPL 3, returns itself to
 * %rcx with %r11's flags. A program that jumps to LSTAR in ring 3 makes a system call that way;
 * nothing else of the page is usable from ring 3 (sysretq and the CR3 reload are privileged).
 *
 * Any exception (a ring-3 page fault, #GP from int $0x80, sysenter, in/out or hlt, #UD, ...)
 * runs its stub on IST1, which reports the vector with `out %al, $(0xc0 + vector)`; the run
 * ends with the process backend's wording and exit code (FUNK_VM_EXIT_FAULT).
 *
 * linux_syscall.c keeps its state in statics (it is one guest per process under the process
 * backend): so is this backend, one Linux guest at a time per process (funk-monitor).
 */

#define LXK_GPA 0x100000000ull
#define LXK_CODE 0x0000u /* the syscall entry page */
#define LXK_EXCP 0x1000u /* the exception stubs' page */
#define LXK_GDT 0x2000u
#define LXK_IDT 0x3000u
#define LXK_TSS 0x4000u
#define LXK_STACK 0x5000u
#define LXK_STACK_TOP 0x7000u
#define LXK_PML4 0x7000u
#define LXK_PDPT 0x8000u
#define LXK_PD_HI 0x9000u
#define LXK_PT_HI 0xa000u
#define LXK_PD 0xb000u /* 4 PDs: guest memory up to 4 GiB */
#define LXK_PT 0xf000u /* one PT per 2 MiB of guest memory */
/* the TSS with an I/O bitmap for ports 0..0xff, then the terminating 0xff byte */
#define LXK_TSS_LIMIT (104u + 32u + 1u - 1u)

/* Handler page layout */
#define LXK_SYSCALL 0x00u /* out %al,$0xf0 ; sysretq */
#define LXK_SYSRET 0x02u
#define LXK_FLUSH 0x10u     /* mov %cr3,%rax ; mov %rax,%cr3 ; out %al,$0xf2 ; sysretq */
#define LXK_FLUSH_OUT 0x16u /* its out */
#define LXK_EXC LXK_EXCP    /* + 16 * vector: out %al,$(0xc0 + v) ; hlt ; jmp .-1 */

#define PORT_SYSCALL 0xf0u
#define PORT_FAULT 0xc0u /* + vector (0..31) */
#define PORT_FLUSHED 0xf2u

#define SEL_KCODE 0x08u
#define SEL_KDATA 0x10u
#define SEL_UDATA 0x1bu /* 0x18 | 3 */
#define SEL_UCODE 0x23u /* 0x20 | 3 */
#define SEL_TSS 0x28u

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_NX (1ull << 63)

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_FMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KGS_BASE 0xc0000102u
#define MSR_SYSENTER_CS 0x174u

static struct funk_vm *lxk_vm; /* the one Linux guest of this process under KVM */
static uint8_t *priv;          /* host mapping of the privileged slot */
static size_t priv_size;
static int slot_set;   /* memory slot 1 is priv */
static int ended;      /* the personality ended the run (exit, fault, I/O failure) */
static int need_flush; /* a page lost permissions since the guest last reloaded CR3 */
static int sync_regs;  /* KVM_CAP_SYNC_REGS: registers in kvm_run, no ioctl per call */
static int sync_sregs; /* and the segment registers (the CPL) */
static uint64_t fs_applied;
static int64_t flush_rax;         /* the result held across the flush path's exit */
static uint64_t lost_lo, lost_hi; /* the guest pages that lost permissions in this call */

static uint64_t *pte_of(uint64_t gpa)
{
    return (uint64_t *)(priv + LXK_PT) + gpa / 4096;
}

static void set_pte(uint64_t a, uint64_t pte)
{
    uint64_t *p = pte_of(a);
    uint64_t old = *p;
    /* Taken away (present, writable, executable): cached translations must go. */
    if ((old & PTE_P) && (!(pte & PTE_P) || ((old & PTE_W) && !(pte & PTE_W)) ||
                          (!(old & PTE_NX) && (pte & PTE_NX)))) {
        need_flush = 1;
        if (lost_hi == 0 || a < lost_lo)
            lost_lo = a;
        if (a + 4096 > lost_hi)
            lost_hi = a + 4096;
    }
    *p = pte;
}

static void host_pages(uint64_t addr, uint64_t len, uint8_t v)
{
    uint64_t mem = lxk_vm->mem_size;
    for (uint64_t a = addr & ~4095ull; a < addr + len && a < mem; a += 4096) {
        uint64_t pte = 0;
        if (v & (LX_R | LX_W))
            pte = a | PTE_P | PTE_U | ((v & LX_W) ? PTE_W : 0) | ((v & LX_X) ? 0 : PTE_NX);
        set_pte(a, pte);
    }
}

static void host_protect(uint64_t addr, uint64_t len, int prot)
{
    uint64_t mem = lxk_vm->mem_size;
    for (uint64_t a = addr & ~4095ull; a < addr + len && a < mem; a += 4096) {
        uint64_t pte = 0;
        if (prot & (PROT_READ | PROT_WRITE | PROT_EXEC))
            pte = a | PTE_P | PTE_U | ((prot & PROT_WRITE) ? PTE_W : 0) |
                  ((prot & PROT_EXEC) ? 0 : PTE_NX);
        set_pte(a, pte);
    }
}

static int host_recv(struct funk_vm_request *req)
{
    const struct funk_vm_io *io = lxk_vm->io;
    if (!io || !io->recv)
        return 1; /* no request: empty stdin */
    int rc = io->recv(io->opaque, req);
    return rc;
}

static int host_send(const struct funk_vm_response *resp)
{
    const struct funk_vm_io *io = lxk_vm->io;
    if (!io || !io->send)
        return 0;
    return io->send(io->opaque, resp);
}

static void host_console(const char *data, size_t len)
{
    const struct funk_vm_io *io = lxk_vm->io;
    if (io && io->console) {
        io->console(io->opaque, data, len);
    } else {
        fwrite(data, 1, len, stdout);
        fflush(stdout);
    }
}

static void host_exit(enum funk_vm_exit exit, int status, const char *reason)
{
    if (ended)
        return; /* the first end is the run's result */
    ended = 1;
    if (!lxk_vm->res)
        return; /* at load: linux_kvm_setup reports it */
    vm_stop(lxk_vm, exit, "%s", reason);
    lxk_vm->res->status = status;
}

static void host_hypercall(unsigned nr, uint64_t arg)
{
    if (ended)
        return;
    /* the same checks and handlers as a unikernel's hypercall; a stopping one (HALT, or a bad
     * argument) has set the run's result through vm_stop */
    if (hc_dispatch(lxk_vm, nr, arg) == HC_STOP)
        ended = 1;
}

static const struct linux_host kvm_host = {
    .pages = host_pages,
    .protect = host_protect,
    .recv = host_recv,
    .send = host_send,
    .console = host_console,
    .exit = host_exit,
    .hypercall = host_hypercall,
};

static int setup_err(struct funk_vm *vm, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int setup_err(struct funk_vm *vm, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->err, sizeof vm->err, fmt, ap);
    va_end(ap);
    return rc;
}

/* A flat 64-bit code or data descriptor (accessed already: the GDT is read-only). */
static uint64_t seg_desc(int code, unsigned dpl)
{
    uint64_t type = code ? 0xb : 0x3;
    return 0xffffull | (0xfull << 48) | (type << 40) | (1ull << 44) | ((uint64_t)dpl << 45) |
           (1ull << 47) | (code ? 1ull << 53 : 1ull << 54) | (1ull << 55);
}

static void kseg(struct kvm_segment *s, uint16_t sel, int code, unsigned dpl)
{
    memset(s, 0, sizeof *s);
    s->limit = 0xffffffff;
    s->selector = sel;
    s->type = code ? 0xb : 0x3;
    s->present = 1;
    s->dpl = (uint8_t)dpl;
    s->s = 1;
    s->g = 1;
    s->l = code ? 1 : 0;
    s->db = code ? 0 : 1;
}

static void write_priv(const struct funk_vm *vm)
{
    /* Handler page. */
    static const uint8_t entry[] = {0xe6, PORT_SYSCALL, 0x48, 0x0f, 0x07};
    static const uint8_t flush[] = {0x0f, 0x20,         0xd8, 0x0f, 0x22, 0xd8,
                                    0xe6, PORT_FLUSHED, 0x48, 0x0f, 0x07};
    memset(priv + LXK_CODE, 0xcc, 8192); /* int3 everywhere else: #BP, which ends the run */
    memcpy(priv + LXK_CODE + LXK_SYSCALL, entry, sizeof entry);
    memcpy(priv + LXK_CODE + LXK_FLUSH, flush, sizeof flush);
    for (unsigned v = 0; v < 32; v++) {
        uint8_t *p = priv + LXK_CODE + LXK_EXC + 16 * v;
        /* the port says the vector; %rax stays the program's (a syscall's number) */
        const uint8_t stub[] = {0xe6, (uint8_t)(PORT_FAULT + v), 0xf4, 0xeb, 0xfd};
        memcpy(p, stub, sizeof stub);
    }
    /* GDT. */
    uint64_t *gdt = (uint64_t *)(priv + LXK_GDT);
    gdt[0] = 0;
    gdt[1] = seg_desc(1, 0);
    gdt[2] = seg_desc(0, 0);
    gdt[3] = seg_desc(0, 3);
    gdt[4] = seg_desc(1, 3);
    uint64_t tss = LXK_GPA + LXK_TSS;
    gdt[5] = LXK_TSS_LIMIT | ((tss & 0xffffff) << 16) | (0xbull << 40) | (1ull << 47) |
             (((tss >> 24) & 0xff) << 56); /* busy 64-bit TSS */
    gdt[6] = tss >> 32;
    /* IDT: interrupt gates, ring 0, IST1. */
    uint8_t *idt = priv + LXK_IDT;
    for (unsigned v = 0; v < 32; v++) {
        uint64_t off = LXK_GPA + LXK_EXC + 16 * v;
        uint8_t *g = idt + 16 * v;
        memset(g, 0, 16);
        g[0] = (uint8_t)off;
        g[1] = (uint8_t)(off >> 8);
        g[2] = SEL_KCODE;
        g[4] = 1;    /* IST1 */
        g[5] = 0x8e; /* present, DPL 0, interrupt gate */
        g[6] = (uint8_t)(off >> 16);
        g[7] = (uint8_t)(off >> 24);
        uint32_t hi = (uint32_t)(off >> 32);
        memcpy(g + 8, &hi, 4);
    }
    /* TSS: RSP0 and IST1; an I/O bitmap that lets ring 3 use port 0xf0 only (in/out on any
     * other: #GP), for KVMs whose syscall stays in ring 3 (see linux_kvm_exit). */
    uint8_t *t = priv + LXK_TSS;
    uint64_t top = LXK_GPA + LXK_STACK_TOP;
    memcpy(t + 4, &top, 8);
    memcpy(t + 36, &top, 8);
    uint16_t iomap = 104;
    memcpy(t + 102, &iomap, 2);
    memset(t + 104, 0xff, 33);
    t[104 + PORT_SYSCALL / 8] = (uint8_t) ~(1u << (PORT_SYSCALL % 8));
    /* Page tables: the privileged pages (supervisor) and guest memory (user, per page map). */
    uint64_t *pml4 = (uint64_t *)(priv + LXK_PML4), *pdpt = (uint64_t *)(priv + LXK_PDPT);
    pml4[0] = (LXK_GPA + LXK_PDPT) | PTE_P | PTE_W | PTE_U;
    pdpt[4] = (LXK_GPA + LXK_PD_HI) | PTE_P | PTE_W | PTE_U;
    ((uint64_t *)(priv + LXK_PD_HI))[0] = (LXK_GPA + LXK_PT_HI) | PTE_P | PTE_W | PTE_U;
    uint64_t *pt_hi = (uint64_t *)(priv + LXK_PT_HI);
    /* the entry page is the only one ring 3 may reach (read and execute: see the header) */
    pt_hi[0] = (LXK_GPA + LXK_CODE) | PTE_P | PTE_U;
    pt_hi[1] = (LXK_GPA + LXK_EXCP) | PTE_P;
    pt_hi[2] = (LXK_GPA + LXK_GDT) | PTE_P | PTE_NX;
    pt_hi[3] = (LXK_GPA + LXK_IDT) | PTE_P | PTE_NX;
    pt_hi[4] = (LXK_GPA + LXK_TSS) | PTE_P | PTE_NX;
    pt_hi[5] = (LXK_GPA + LXK_STACK) | PTE_P | PTE_W | PTE_NX;
    pt_hi[6] = (LXK_GPA + LXK_STACK + 0x1000) | PTE_P | PTE_W | PTE_NX;
    uint64_t n2m = vm->mem_size >> 21;
    for (uint64_t i = 0; i < (vm->mem_size + (1ull << 30) - 1) >> 30; i++)
        pdpt[i] = (LXK_GPA + LXK_PD + 4096 * i) | PTE_P | PTE_W | PTE_U;
    uint64_t *pd = (uint64_t *)(priv + LXK_PD);
    for (uint64_t i = 0; i < n2m; i++)
        pd[i] = (LXK_GPA + LXK_PT + 4096 * i) | PTE_P | PTE_W | PTE_U;
}

struct msrs {
    struct kvm_msrs h;
    struct kvm_msr_entry e[8];
};

static int set_fs(struct funk_vm *vm, uint64_t fs)
{
    struct msrs m = {.h = {.nmsrs = 1}, .e = {{.index = MSR_FS_BASE, .data = fs}}};
    if (ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m) != 1)
        return -EIO;
    fs_applied = fs;
    return 0;
}

static int boot_vcpu(struct funk_vm *vm, uint64_t sp)
{
    struct kvm_sregs sr;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
        return -errno;
    kseg(&sr.cs, SEL_UCODE, 1, 3);
    kseg(&sr.ss, SEL_UDATA, 0, 3);
    sr.ds = sr.es = sr.ss;
    kseg(&sr.fs, 0, 0, 3);
    sr.fs.selector = 0;
    sr.gs = sr.fs;
    memset(&sr.tr, 0, sizeof sr.tr);
    sr.tr.base = LXK_GPA + LXK_TSS;
    sr.tr.limit = LXK_TSS_LIMIT;
    sr.tr.selector = SEL_TSS;
    sr.tr.type = 0xb;
    sr.tr.present = 1;
    memset(&sr.ldt, 0, sizeof sr.ldt);
    sr.ldt.type = 0x2;
    sr.ldt.unusable = 1;
    sr.gdt.base = LXK_GPA + LXK_GDT;
    sr.gdt.limit = 7 * 8 - 1;
    sr.idt.base = LXK_GPA + LXK_IDT;
    sr.idt.limit = 32 * 16 - 1;
    sr.cr3 = LXK_GPA + LXK_PML4;
    /* PAE, OSFXSR, OSXMMEXCPT: SSE works (on real hardware virtualization) */
    sr.cr4 = (1u << 5) | (1u << 9) | (1u << 10);
    /* PE, MP, ET, NE, WP, PG */
    sr.cr0 = (1u << 0) | (1u << 1) | (1u << 4) | (1u << 5) | (1u << 16) | (1u << 31);
    sr.efer = 1u | (1u << 8) | (1u << 10) | (1u << 11); /* SCE, LME, LMA, NXE */
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sr) < 0)
        return -errno;
    struct msrs m = {
        .h = {.nmsrs = 8},
        .e = {
            /* SYSCALL: CS 0x08, SS 0x10; SYSRET: CS 0x10+16|3, SS 0x10+8|3 */
            {.index = MSR_STAR, .data = ((uint64_t)0x10 << 48) | ((uint64_t)0x08 << 32)},
            {.index = MSR_LSTAR, .data = LXK_GPA + LXK_CODE + LXK_SYSCALL},
            {.index = MSR_CSTAR, .data = LXK_GPA + LXK_CODE + 0x800}, /* int3 */
            {.index = MSR_FMASK, .data = 0x47700},                    /* TF IF DF IOPL NT AC */
            {.index = MSR_FS_BASE, .data = 0},
            {.index = MSR_GS_BASE, .data = 0},
            {.index = MSR_KGS_BASE, .data = 0},
            {.index = MSR_SYSENTER_CS, .data = 0}, /* sysenter: #GP */
        }};
    if (ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m) != 8)
        return -EIO;
    fs_applied = 0;
    struct kvm_fpu fpu;
    memset(&fpu, 0, sizeof fpu);
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &fpu) < 0)
        return -errno;
    /* The registers Linux gives a new program: zero, %rsp at argc. */
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = vm->img.entry;
    r.rsp = sp;
    r.rflags = 0x202;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
        return -errno;
    int caps = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    sync_regs = caps > 0 && (caps & KVM_SYNC_X86_REGS);
    sync_sregs = sync_regs && (caps & KVM_SYNC_X86_SREGS);
    if (sync_regs)
        vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS | (sync_sregs ? KVM_SYNC_X86_SREGS : 0);
    return 0;
}

void linux_kvm_release(struct funk_vm *vm)
{
    if (vm != lxk_vm)
        return;
    if (slot_set) {
        /* the slot goes before its memory (a later load into this shell makes it again) */
        struct kvm_userspace_memory_region gone = {.slot = 1, .guest_phys_addr = LXK_GPA};
        ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &gone);
        slot_set = 0;
    }
    if (priv)
        munmap(priv, priv_size);
    priv = NULL;
    linux_pages_reset(vm->mem_size);
    linux_syscall_host(NULL);
    __atomic_store_n(&lxk_vm, NULL, __ATOMIC_RELEASE);
}

int linux_kvm_setup(struct funk_vm *vm)
{
    /* A program with the funk note (funk-cc --linux) makes funk hypercalls: the dispatch table
     * and the modules' set-up, as for a unikernel. */
    int hrc = vm->img.has_funk ? hc_setup(vm) : 0;
    if (hrc)
        return setup_err(vm, hrc, "preparing the funk hypercalls failed: %s", strerror(-hrc));
    struct funk_vm *none = NULL;
    if (!__atomic_compare_exchange_n(&lxk_vm, &none, vm, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return setup_err(vm, -EBUSY,
                         "a Linux guest under KVM is already loaded in this process (one at a "
                         "time)");
    const struct linux_boot *lb = (const struct linux_boot *)vm->staging;
    int rc;
    priv_size = LXK_PT + (vm->mem_size >> 21) * 4096;
    priv = mmap(NULL, priv_size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (priv == MAP_FAILED) {
        priv = NULL;
        rc = setup_err(vm, -ENOMEM, "out of memory for the guest's page tables");
        goto fail;
    }
    struct kvm_userspace_memory_region region = {
        .slot = 1,
        .guest_phys_addr = LXK_GPA,
        .memory_size = priv_size,
        .userspace_addr = (uint64_t)(uintptr_t)priv,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        rc = setup_err(vm, -errno, "KVM: the privileged memory slot: %s", strerror(errno));
        goto fail;
    }
    slot_set = 1;
    write_priv(vm);
    /* Guest memory: fresh (zero) for a new shell; a shell whose load failed before is cleared. */
    if (vm->mem_written)
        madvise(vm->mem, vm->mem_size, MADV_DONTNEED);
    vm->mem_written = true;
    ended = 0;
    need_flush = 0;
    lost_lo = lost_hi = 0;
    static struct linux_host host;
    host = kvm_host;
    host.mem = vm->mem;
    linux_syscall_host(&host);
    linux_pages_reset(vm->mem_size);
    for (unsigned i = 0; i < vm->img.nseg; i++) {
        const struct elf_segment *s = &vm->img.seg[i];
        if (s->filesz)
            memcpy(vm->mem + s->vaddr, vm->elf_copy + s->offset, s->filesz);
    }
    linux_image_pages(vm, 0);
    uint64_t stack_lo = vm->mem_size - lb->stack_size;
    linux_pages_set(stack_lo, lb->stack_size, LX_STACK | LX_R | LX_W);
    linux_pages_set(stack_lo - 4096, 4096, LX_STACK); /* the guard page: not present */
    linux_syscall_init(vm, lb, stack_lo - 4096);
    if (ended) {
        rc = setup_err(vm, -ENOMEM, "cannot reserve the output buffer");
        goto fail;
    }
    linux_guest_fs = 0;
    uint64_t sp;
    if (linux_stack_build(vm, lb, (uintptr_t)vm->mem, &sp) != 0) {
        rc = setup_err(vm, -EIO, "getrandom failed");
        goto fail;
    }
    need_flush = 0;
    lost_lo = lost_hi = 0;
    rc = boot_vcpu(vm, sp);
    if (rc) {
        setup_err(vm, rc, "setting up the vCPU failed: %s", strerror(-rc));
        goto fail;
    }
    return 0;
fail:
    linux_kvm_release(vm);
    return rc;
}

/* The vCPU's general registers after an exit, and their write-back. */
static int get_regs(struct funk_vm *vm, struct kvm_regs *r)
{
    if (sync_regs) {
        *r = vm->run->s.regs.regs;
        return 0;
    }
    return ioctl(vm->vcpu_fd, KVM_GET_REGS, r) < 0 ? -errno : 0;
}

static int put_regs(struct funk_vm *vm, const struct kvm_regs *r)
{
    if (sync_regs) {
        vm->run->s.regs.regs = *r;
        vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
        return 0;
    }
    return ioctl(vm->vcpu_fd, KVM_SET_REGS, r) < 0 ? -errno : 0;
}

/*
 * Serves the system call in r (rax, rdi..r9) and sets where the guest resumes: at `resume`
 * (the entry's sysretq in ring 0, the caller's %rcx in ring 3), or first at flush_at (the CR3
 * reload in ring 0) when a page lost permissions.
 */
static int serve(struct funk_vm *vm, struct kvm_regs *r, uint64_t resume, uint64_t flush_at)
{
    vm->res->hypercalls++;
    struct linux_regs lr = {.nr = r->rax, .a = {r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9}};
    int64_t ret = linux_syscall(&lr);
    if (ended)
        return HC_STOP;
    if (linux_guest_fs != fs_applied && set_fs(vm, linux_guest_fs) != 0)
        return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "linux: setting the guest's FS base failed");
    r->rax = (uint64_t)ret;
    r->rip = resume;
    if (lost_hi) {
        /*
         * Under shadow paging (software KVM, this project's hosts) the host's own writes to the
         * guest's page tables are not seen, nor is a CR3 reload a reason to read them again:
         * what KVM does notice is a change to the host mapping of the pages themselves (its MMU
         * notifier drops their shadow entries, and the next access walks the tables afresh).
         * A protection change that is undone at once is such a change, contents untouched.
         */
        mprotect(vm->mem + lost_lo, lost_hi - lost_lo, PROT_READ);
        mprotect(vm->mem + lost_lo, lost_hi - lost_lo, PROT_READ | PROT_WRITE);
        lost_lo = lost_hi = 0;
    }
    if (need_flush) {
        /* resume at the CR3 reload; its own exit puts the result back */
        need_flush = 0;
        flush_rax = ret;
        r->rip = flush_at;
    }
    if (put_regs(vm, r) != 0)
        return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "linux: vCPU write failed");
    return HC_CONTINUE;
}

static int fault(struct funk_vm *vm, unsigned vec)
{
    struct kvm_regs r;
    if (get_regs(vm, &r) != 0)
        return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "linux: reading the vCPU failed");
    /* vectors that push an error code */
    int has_err =
        vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30;
    uint64_t frame[6] = {0};
    size_t flen = (has_err ? 6 : 5) * sizeof frame[0];
    uint64_t at = r.rsp - LXK_GPA;
    if (r.rsp < LXK_GPA + LXK_STACK || at > LXK_STACK_TOP - flen)
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "guest fault: exception %u with its frame off the exception stack", vec);
    memcpy(frame, priv + at, flen);
    uint64_t err = has_err ? frame[0] : 0;
    const uint64_t *f = frame + (has_err ? 1 : 0); /* rip, cs, rflags, rsp, ss */
    unsigned long long rip = f[0];
    if ((f[1] & 3) != 3)
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "guest fault: exception %u in the monitor's ring-0 handler (rip=0x%llx, "
                       "error 0x%llx)",
                       vec, rip, (unsigned long long)err);
    if (vec == 14) {
        struct kvm_sregs sr;
        unsigned long long addr = ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) == 0 ? sr.cr2 : 0;
        const char *kind = (err & 0x10) ? "exec" : (err & 0x2) ? "write" : "read";
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "guest fault: page fault at 0x%llx (rip=0x%llx, %s%s)", addr, rip, kind,
                       (err & 0x1) ? ", protection" : "");
    }
    /* The other ways into a kernel, named: int $0x80 (#GP on hardware, #UD here) and sysenter. */
    const uint8_t *insn = vm_gpa(vm, rip, 2);
    if (insn && (vec == 13 || vec == 6) && insn[0] == 0xcd && insn[1] == 0x80)
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "guest fault: int $0x80 (the 32-bit system call ABI is not served; "
                       "signal 11, rip=0x%llx)",
                       rip);
    if (insn && (vec == 13 || vec == 6) && insn[0] == 0x0f && insn[1] == 0x34)
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "guest fault: sysenter (not served: 64-bit programs use syscall; signal "
                       "%d, rip=0x%llx)",
                       vec == 6 ? 4 : 11, rip);
    /* the process backend's wording: the signal Linux would have sent */
    const char *what = "general protection fault";
    int sig = 11;
    switch (vec) {
    case 0:
        what = "divide error", sig = 8;
        break;
    case 1:
    case 3:
        what = "breakpoint", sig = 5;
        break;
    case 6:
        what = "invalid opcode", sig = 4;
        break;
    case 16:
    case 19:
        what = "floating-point exception", sig = 8;
        break;
    case 11:
    case 12:
    case 17:
        what = "bus error", sig = 7;
        break;
    default:
        break;
    }
    return vm_stop(vm, FUNK_VM_EXIT_FAULT, "guest fault: %s (signal %d, rip=0x%llx)", what, sig,
                   rip);
}

int linux_kvm_exit(struct funk_vm *vm)
{
    struct kvm_run *run = vm->run;
    if (vm != lxk_vm || run->exit_reason != KVM_EXIT_IO)
        return -1; /* HLT, shutdown, emulation failures: the KVM backend's own reports */
    unsigned port = run->io.port;
    struct kvm_regs r;
    if (get_regs(vm, &r) != 0)
        return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "linux: reading the vCPU failed");
    uint64_t code = LXK_GPA + LXK_CODE;
    /* Ring 3 may use port 0xf0 only (the TSS's bitmap), ring 0 runs only the monitor's code:
     * every port is checked against where its out lies. */
    if (port >= PORT_FAULT && port < PORT_FAULT + 32 && run->io.size == 1 &&
        r.rip - code - LXK_EXC - 16 * (port - PORT_FAULT) <= 2)
        return fault(vm, port - PORT_FAULT);
    if (port == PORT_FLUSHED &&
        (r.rip == code + LXK_FLUSH_OUT || r.rip == code + LXK_FLUSH_OUT + 2)) {
        r.rax = (uint64_t)flush_rax;
        return put_regs(vm, &r) == 0
                   ? HC_CONTINUE
                   : vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "linux: vCPU write failed");
    }
    if (port != PORT_SYSCALL || run->io.size != 1 ||
        (r.rip != code + LXK_SYSCALL && r.rip != code + LXK_SYSRET))
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "guest fault: general protection fault (signal 11, port I/O 0x%x at "
                       "rip=0x%llx outside the system-call entry)",
                       port, (unsigned long long)r.rip);
    int cpl;
    if (sync_sregs) {
        cpl = vm->run->s.regs.sregs.cs.dpl;
    } else {
        struct kvm_sregs sr;
        if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
            return vm_stop(vm, FUNK_VM_EXIT_INTERNAL, "linux: reading the vCPU failed");
        cpl = sr.cs.dpl;
    }
    if (cpl == 0) /* rip: at the out (KVM completes it on resume: sysretq next) or past it */
        return serve(vm, &r, r.rip, code + LXK_FLUSH);
    /*
     * Still in ring 3 at LSTAR: a KVM whose instruction emulator does not switch privilege on
     * syscall (the software KVM of this project's hosts), or a program that jumped here itself,
     * which is the same as making the call. The entry page is user-executable and port 0xf0
     * open to ring 3 for this: return as sysret would, to %rcx with %r11's flags (IOPL, NT, RF
     * cleared). Pages that lost permissions need no CR3 reload here: the host mapping's
     * protection round trip in serve() makes KVM drop its cached entries, TDP or shadow.
     */
    if ((int64_t)r.rcx != ((int64_t)(r.rcx << 16) >> 16))
        return vm_stop(vm, FUNK_VM_EXIT_FAULT,
                       "guest fault: general protection fault (signal 11, a system call returning "
                       "to the non-canonical 0x%llx)",
                       (unsigned long long)r.rcx);
    r.rflags = (r.r11 & 0x3c0dd5) | 0x202;
    return serve(vm, &r, r.rcx, r.rcx);
}
