/* SPDX-License-Identifier: Apache-2.0 */
/* Host-side x86_64 guest set-up: the guest starts in long mode without running set-up code. */
#include "x86_64.h"
#include "vm_backend.h"
#include "vm_internal.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>

#define PAGE 4096ull
#define MIB2 (2ull << 20)
#define GIB1 (1ull << 30)

/* Vectors for which the CPU pushes an error code. */
static int has_error_code(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, sizeof v);
}

static void setup_gdt(uint8_t *mem)
{
    uint8_t *gdt = mem + X86_GDT_GPA;
    put64(gdt + 0, 0);
    put64(gdt + X86_GDT_CODE, 0x00af9b000000ffffull); /* 64-bit code, accessed */
    put64(gdt + X86_GDT_DATA, 0x00cf93000000ffffull); /* data, accessed */
    uint64_t base = X86_TSS_GPA, limit = 103;
    uint64_t lo = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x8bull << 40) |
                  (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    put64(gdt + X86_GDT_TSS, lo);
    put64(gdt + X86_GDT_TSS + 8, base >> 32);
    uint8_t *tss = mem + X86_TSS_GPA;
    memset(tss, 0, 104);
    put16(tss + 102, 104); /* no I/O permission bitmap */
}

/* The hypercall entry funk guests call: void entry(uint64_t nr, uint64_t arg). */
static void setup_stubs(uint8_t *mem)
{
    static const uint8_t hc[] = {
        0x89, 0xfa,                         /* mov %edi,%edx */
        0x81, 0xc2, 0x00, 0x05, 0x00, 0x00, /* add $HVT_PIO_BASE,%edx */
        0x89, 0xf0,                         /* mov %esi,%eax */
        0xef,                               /* out %eax,(%dx) */
        0xc3,                               /* ret */
    };
    _Static_assert(HVT_PIO_BASE == 0x500, "stub encodes the PIO base");
    uint8_t *stub = mem + X86_STUB_GPA;
    memset(stub, 0xcc, PAGE); /* int3 everywhere else */
    memcpy(stub, hc, sizeof hc);

    /* Exception stubs, 16 bytes each, then the common tail that reports the frame. */
    uint64_t common = X86_EXC_STUB_GPA + 32 * 16;
    for (unsigned v = 0; v < 32; v++) {
        uint64_t at = X86_EXC_STUB_GPA + v * 16;
        uint8_t *p = mem + at;
        if (!has_error_code(v)) {
            *p++ = 0x6a; /* push $0 */
            *p++ = 0x00;
        }
        *p++ = 0x6a; /* push $vector */
        *p++ = (uint8_t)v;
        *p++ = 0xe9; /* jmp common */
        uint64_t next = (uint64_t)(p + 4 - mem);
        put32(p, (uint32_t)(int32_t)(common - next));
    }
    uint16_t port = HVT_PIO_BASE + FUNK_HC_FAULT;
    uint8_t tail[] = {
        0x48, 0x89, 0xe0,                               /* mov %rsp,%rax */
        0x66, 0xba, (uint8_t)port, (uint8_t)(port >> 8), /* mov $port,%dx */
        0xef,                                           /* out %eax,(%dx) */
        0xf4,                                           /* hlt */
        0xeb, 0xfd,                                     /* jmp hlt */
    };
    memcpy(mem + common, tail, sizeof tail);

    uint8_t *idt = mem + X86_IDT_GPA;
    memset(idt, 0, PAGE);
    for (unsigned v = 0; v < 32; v++) {
        uint64_t h = X86_EXC_STUB_GPA + v * 16;
        uint8_t *e = idt + v * 16;
        put16(e + 0, (uint16_t)h);
        put16(e + 2, X86_GDT_CODE);
        e[4] = 0;
        e[5] = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
        put16(e + 6, (uint16_t)(h >> 16));
        put32(e + 8, (uint32_t)(h >> 32));
    }
}

static uint64_t pte_for(const struct elf_image *img, uint64_t mem_size, uint64_t a)
{
    if (a == 0 || a >= mem_size)
        return 0;
    if (a == X86_STUB_GPA)
        return a | X86_PTE_P; /* read + execute */
    if (a >= HVT_GUEST_MIN_BASE && a < img->kernel_end) {
        unsigned perm = elf_page_perm(img, a);
        bool w = (perm & ELF_W) || img->host_ro;
        return a | X86_PTE_P | (w ? X86_PTE_W : 0) | ((perm & ELF_X) ? 0 : X86_PTE_NX);
    }
    return a | X86_PTE_P | X86_PTE_W | X86_PTE_NX;
}

int x86_setup(uint8_t *mem, uint64_t mem_size, const struct elf_image *img)
{
    if (mem_size < MIB2 || mem_size > X86_MAX_MEM || (mem_size & (MIB2 - 1)))
        return -EINVAL;
    setup_gdt(mem);
    setup_stubs(mem);
    memset(mem + X86_PML4_GPA, 0, PAGE * 6); /* PML4, PDPT and four PDs */
    put64(mem + X86_PML4_GPA, X86_PDPT_GPA | X86_PTE_P | X86_PTE_W);
    uint64_t ngib = (mem_size + GIB1 - 1) / GIB1;
    for (uint64_t g = 0; g < ngib; g++)
        put64(mem + X86_PDPT_GPA + g * 8, (X86_PD_GPA + g * PAGE) | X86_PTE_P | X86_PTE_W);

    uint64_t pool = X86_PT_POOL_GPA;
    for (uint64_t r = 0; r < mem_size; r += MIB2) {
        uint8_t *pde = mem + X86_PD_GPA + (r / MIB2) * 8;
        if (r >= img->kernel_end && r != 0) {
            put64(pde, r | X86_PTE_P | X86_PTE_W | X86_PTE_PS | X86_PTE_NX);
            continue;
        }
        if (pool + PAGE > X86_PT_POOL_END)
            return -ENOMEM;
        uint8_t *pt = mem + pool;
        for (uint64_t i = 0; i < 512; i++)
            put64(pt + i * 8, pte_for(img, mem_size, r + i * PAGE));
        put64(pde, pool | X86_PTE_P | X86_PTE_W);
        pool += PAGE;
    }
    return 0;
}

static uint64_t get64(const uint8_t *mem, uint64_t mem_size, uint64_t gpa)
{
    uint64_t v = 0;
    if (gpa <= mem_size - 8)
        memcpy(&v, mem + gpa, sizeof v);
    return v;
}

uint64_t x86_translate(const uint8_t *mem, uint64_t mem_size, uint64_t addr)
{
    const uint64_t amask = 0x000ffffffffff000ull;
    uint64_t e = get64(mem, mem_size, X86_PML4_GPA + ((addr >> 39) & 511) * 8);
    if (!(e & X86_PTE_P))
        return 0;
    e = get64(mem, mem_size, (e & amask) + ((addr >> 30) & 511) * 8);
    if (!(e & X86_PTE_P))
        return 0;
    e = get64(mem, mem_size, (e & amask) + ((addr >> 21) & 511) * 8);
    if (!(e & X86_PTE_P) || (e & X86_PTE_PS))
        return e;
    return get64(mem, mem_size, (e & amask) + ((addr >> 12) & 511) * 8);
}

const char *x86_vector_name(unsigned v)
{
    static const char *const names[] = {
        "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range exceeded",
        "invalid opcode", "device not available", "double fault", "coprocessor overrun",
        "invalid TSS", "segment not present", "stack fault", "general protection fault",
        "page fault", "reserved", "x87 floating-point error", "alignment check",
        "machine check", "SIMD floating-point error", "virtualization exception",
        "control protection"};
    return v < sizeof names / sizeof names[0] ? names[v] : "exception";
}

/* ---- vm_backend.h's architecture part ------------------------------------------------------ */

const unsigned long vm_backend_run_ioctls[] = {KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS};
const unsigned vm_backend_nrun_ioctls = 3;
const unsigned long vm_backend_spawn_ioctls[] = {KVM_SET_CPUID2, KVM_GET_TSC_KHZ, KVM_SET_SREGS,
                                                 KVM_SET_REGS, KVM_SET_FPU, KVM_SET_MSRS};
const unsigned vm_backend_nspawn_ioctls = 6;
const unsigned long vm_backend_snap_ioctls[] = {KVM_GET_FPU, KVM_GET_MSRS};
const unsigned vm_backend_nsnap_ioctls = 2;
const unsigned long vm_backend_linux_ioctls[] = {KVM_SET_REGS, KVM_SET_MSRS};
const unsigned vm_backend_nlinux_ioctls = 2;

int vm_backend_hw_virt(void)
{
    int hw = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    while (f && !hw && fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0 && (strstr(line, " vmx") || strstr(line, " svm")))
            hw = 1;
    if (f)
        fclose(f);
    return hw;
}

int vm_backend_mem_setup(struct funk_vm *vm)
{
    return x86_setup(vm->mem, vm->mem_size, &vm->img);
}

uint64_t vm_backend_hc_stub(void)
{
    return X86_STUB_GPA;
}

const char *vm_backend_vector_name(unsigned vector)
{
    return x86_vector_name(vector);
}
