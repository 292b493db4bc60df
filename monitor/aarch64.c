/* SPDX-License-Identifier: Apache-2.0 */
/* Host-side aarch64 guest set-up: vectors, hypercall stub and identity page tables, so the
 * guest starts at EL1 with the MMU on and W^X already in force. */
#include "aarch64.h"
#include "vm_backend.h"
#include "vm_internal.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#define PAGE 4096ull
#define MIB2 (2ull << 20)
#define GIB1 (1ull << 30)

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}

static uint64_t get64(const uint8_t *mem, uint64_t mem_size, uint64_t gpa)
{
    uint64_t v = 0;
    if (gpa <= mem_size - 8)
        memcpy(&v, mem + gpa, sizeof v);
    return v;
}

/* A64 encodings used by the stubs. */
#define A64_MOVZ_X(rd, imm16, hw)                                                                  \
    (0xd2800000u | ((uint32_t)(hw) << 21) | ((uint32_t)(imm16) << 5) | (rd))
#define A64_ADD_X_IMM(rd, rn, imm12) (0x91000000u | ((uint32_t)(imm12) << 10) | ((rn) << 5) | (rd))
#define A64_ADD_X_LSL(rd, rn, rm, sh)                                                              \
    (0x8b000000u | ((rm) << 16) | ((uint32_t)(sh) << 10) | ((rn) << 5) | (rd))
#define A64_STR_W(rt, rn) (0xb9000000u | ((rn) << 5) | (rt))
#define A64_RET 0xd65f03c0u
#define A64_WFI 0xd503207fu
#define A64_B_BACK1 0x17ffffffu /* b .-4 */
#define A64_UDF 0x00000000u

/*
 * The hypercall entry funk guests call, void entry(uint64_t nr, uint64_t arg): a 32-bit store
 * of arg to HVT_MMIO_ADDR(nr). Each exception vector stores its index to
 * HVT_MMIO_ADDR(FUNK_HC_FAULT); the monitor then reads ESR/FAR/ELR itself (nothing the guest
 * wrote is trusted for the report) and ends the run.
 */
static void setup_stubs(uint8_t *mem)
{
    _Static_assert(HVT_MMIO_BASE == 1ull << 32, "stubs encode the MMIO base as movz #1, lsl #32");
    _Static_assert(FUNK_HC_FAULT * 8 < 4096, "fault address fits an add immediate");
    uint8_t *page = mem + AA64_VECTORS_GPA;
    for (unsigned i = 0; i < PAGE / 4; i++)
        put32(page + i * 4, A64_UDF);
    for (unsigned v = 0; v < 16; v++) {
        uint8_t *p = page + v * 0x80;
        const uint32_t code[] = {
            A64_MOVZ_X(10, v, 0),                   /* mov x10, #vector */
            A64_MOVZ_X(9, 1, 2),                    /* mov x9, #HVT_MMIO_BASE */
            A64_ADD_X_IMM(9, 9, FUNK_HC_FAULT * 8), /* add x9, x9, #FAULT * 8 */
            A64_STR_W(10, 9),                       /* str w10, [x9] */
            A64_WFI,
            A64_B_BACK1,
        };
        memcpy(p, code, sizeof code);
    }
    const uint32_t hc[] = {
        A64_MOVZ_X(9, 1, 2),       /* mov x9, #HVT_MMIO_BASE */
        A64_ADD_X_LSL(9, 9, 0, 3), /* add x9, x9, x0, lsl #3 */
        A64_STR_W(1, 9),           /* str w1, [x9] */
        A64_RET,
    };
    memcpy(mem + AA64_STUB_GPA, hc, sizeof hc);
}

static uint64_t page_desc(const struct elf_image *img, uint64_t mem_size, uint64_t a)
{
    const uint64_t rw_nx =
        AA64_DESC_TABLE | AA64_ATTR_NORMAL | AA64_SH_INNER | AA64_AF | AA64_PXN | AA64_UXN;
    if (a == 0 || a >= mem_size)
        return 0;
    if (a == (AA64_VECTORS_GPA & ~(PAGE - 1)))
        return a | AA64_DESC_TABLE | AA64_ATTR_NORMAL | AA64_SH_INNER | AA64_AF | AA64_AP_RO |
               AA64_UXN; /* read + execute at EL1 */
    if (a >= HVT_GUEST_MIN_BASE && a < img->kernel_end) {
        unsigned perm = elf_page_perm(img, a);
        bool w = (perm & ELF_W) || img->host_ro;
        return a | AA64_DESC_TABLE | AA64_ATTR_NORMAL | AA64_SH_INNER | AA64_AF | AA64_UXN |
               (w ? 0 : AA64_AP_RO) | ((perm & ELF_X) ? 0 : AA64_PXN);
    }
    return a | rw_nx;
}

int aarch64_setup(uint8_t *mem, uint64_t mem_size, const struct elf_image *img)
{
    if (mem_size < MIB2 || mem_size > AA64_MAX_MEM || (mem_size & (MIB2 - 1)))
        return -EINVAL;
    setup_stubs(mem);
    memset(mem + AA64_L1_GPA, 0, PAGE * 5); /* level 1 and four level-2 tables */
    uint64_t ngib = (mem_size + GIB1 - 1) / GIB1;
    for (uint64_t g = 0; g < ngib; g++)
        put64(mem + AA64_L1_GPA + g * 8, (AA64_L2_GPA + g * PAGE) | AA64_DESC_TABLE);
    /* 4-5 GiB: the hypercall addresses, Device memory so every store leaves the guest. */
    put64(mem + AA64_L1_GPA + (AA64_MAX_MEM / GIB1) * 8,
          HVT_MMIO_BASE | AA64_DESC_BLOCK | AA64_ATTR_DEVICE | AA64_AF | AA64_PXN | AA64_UXN);

    uint64_t pool = AA64_PT_POOL_GPA;
    for (uint64_t r = 0; r < mem_size; r += MIB2) {
        uint8_t *l2e = mem + AA64_L2_GPA + (r / MIB2) * 8;
        if (r >= img->kernel_end && r != 0) {
            put64(l2e, r | AA64_DESC_BLOCK | AA64_ATTR_NORMAL | AA64_SH_INNER | AA64_AF | AA64_PXN |
                           AA64_UXN);
            continue;
        }
        if (pool + PAGE > AA64_PT_POOL_END)
            return -ENOMEM;
        uint8_t *pt = mem + pool;
        for (uint64_t i = 0; i < 512; i++)
            put64(pt + i * 8, page_desc(img, mem_size, r + i * PAGE));
        put64(l2e, pool | AA64_DESC_TABLE);
        pool += PAGE;
    }
    return 0;
}

uint64_t aarch64_translate(const uint8_t *mem, uint64_t mem_size, uint64_t addr)
{
    if (addr >> 39)
        return 0;
    uint64_t e = get64(mem, mem_size, AA64_L1_GPA + ((addr >> 30) & 511) * 8);
    for (int level = 1; level <= 2; level++) {
        if (!(e & AA64_DESC_VALID))
            return 0;
        if ((e & 3) == AA64_DESC_BLOCK)
            return e;
        e = get64(mem, mem_size,
                  (e & AA64_ADDR_MASK) + ((addr >> (level == 1 ? 21 : 12)) & 511) * 8);
    }
    return (e & 3) == AA64_DESC_TABLE ? e : 0; /* level 3: only pages are valid */
}

const char *aarch64_ec_name(unsigned ec)
{
    switch (ec) {
    case 0x00:
        return "undefined instruction";
    case 0x07:
        return "FP/SIMD access trap";
    case 0x0e:
        return "illegal execution state";
    case 0x15:
        return "svc";
    case 0x16:
        return "hvc";
    case 0x17:
        return "smc";
    case 0x18:
        return "system register trap";
    case 0x20:
    case 0x21:
        return "instruction abort";
    case 0x22:
        return "PC alignment fault";
    case 0x24:
    case 0x25:
        return "data abort";
    case 0x26:
        return "SP alignment fault";
    case 0x2c:
        return "floating-point exception";
    case 0x2f:
        return "SError";
    case 0x3c:
        return "breakpoint (brk)";
    default:
        return "exception";
    }
}

/* ---- vm_backend.h's architecture part ------------------------------------------------------ */

const unsigned long vm_backend_run_ioctls[] = {KVM_RUN, KVM_GET_ONE_REG};
const unsigned vm_backend_nrun_ioctls = 2;
const unsigned long vm_backend_spawn_ioctls[] = {KVM_GET_API_VERSION, KVM_ARM_PREFERRED_TARGET,
                                                 KVM_ARM_VCPU_INIT, KVM_SET_ONE_REG,
                                                 KVM_GET_REG_LIST};
const unsigned vm_backend_nspawn_ioctls = 5;
const unsigned long vm_backend_snap_ioctls[] = {KVM_GET_REG_LIST};
const unsigned vm_backend_nsnap_ioctls = 1;
const unsigned long vm_backend_linux_ioctls[] = {0}; /* no Linux personality on aarch64 yet */
const unsigned vm_backend_nlinux_ioctls = 0;

int vm_backend_hw_virt(void)
{
    return 1;
}

int vm_backend_mem_setup(struct funk_vm *vm)
{
    return aarch64_setup(vm->mem, vm->mem_size, &vm->img);
}

uint64_t vm_backend_hc_stub(void)
{
    return AA64_STUB_GPA;
}

const char *vm_backend_vector_name(unsigned vector)
{
    return aarch64_ec_name(vector);
}
