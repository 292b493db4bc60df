/* SPDX-License-Identifier: Apache-2.0 */
/* aarch64 guest memory set-up done on the host: exception vectors, hypercall stub, stage-1
 * identity page tables (the guest starts at EL1 with the MMU on, running no set-up code). */
#ifndef FUNK_MONITOR_AARCH64_H
#define FUNK_MONITOR_AARCH64_H

#include <stdint.h>

#include "elf_loader.h"

/* Monitor-owned pages in the first MiB (the same map as x86_64, see funk/abi/funk.h). */
#define AA64_VECTORS_GPA 0x1000u  /* VBAR_EL1: 16 entries of 0x80 bytes */
#define AA64_STUB_GPA 0x1800u     /* hypercall entry funk guests call, same page (R+X) */
#define AA64_L1_GPA 0x2000u       /* 39-bit VA: the walk starts at level 1 (1 GiB entries) */
#define AA64_L2_GPA 0x3000u       /* four level-2 tables: 0x3000-0x6fff, 4 GiB of RAM */
#define AA64_PT_POOL_GPA 0x1d000u /* level-3 tables for the 2 MiB regions below kernel_end */
#define AA64_PT_POOL_END 0x100000u

/* Descriptor bits (VMSAv8-64, 4 KiB granule). */
#define AA64_DESC_VALID 0x1ull
#define AA64_DESC_TABLE 0x3ull       /* table (levels 1-2) or page (level 3) */
#define AA64_DESC_BLOCK 0x1ull       /* block (levels 1-2) */
#define AA64_ATTR_NORMAL (0ull << 2) /* MAIR_EL1 attr 0: Normal write-back */
#define AA64_ATTR_DEVICE (1ull << 2) /* MAIR_EL1 attr 1: Device-nGnRnE */
#define AA64_AP_RO (2ull << 6)       /* EL1 read-only (EL0: no access either way) */
#define AA64_SH_INNER (3ull << 8)
#define AA64_AF (1ull << 10)
#define AA64_PXN (1ull << 53)
#define AA64_UXN (1ull << 54)
#define AA64_ADDR_MASK 0x0000fffffffff000ull

/* System register values the vCPU starts with (kvm_aarch64.c). */
#define AA64_MAIR 0x00ffull /* attr 0 0xff Normal WB RA WA, attr 1 0x00 Device-nGnRnE */
/* T0SZ 25 (39-bit VA), inner/outer WB, inner shareable, 4 KiB granule, no TTBR1 walks (EPD1),
 * 36-bit physical addresses (RAM below 4 GiB, hypercall MMIO at 4 GiB). */
#define AA64_TCR                                                                                   \
    (25ull | (1ull << 8) | (1ull << 10) | (3ull << 12) | (25ull << 16) | (1ull << 23) |            \
     (1ull << 32))
/* M (MMU), C, SA (stack alignment check), I, plus the RES1 bits of ARMv8.0 (11, 20, 22, 23, 28,
 * 29). Alignment checking (A) stays off. WXN (writable implies never-execute) is added for funk
 * guests; a plain Solo5 guest's text is writable in its tables (the host mapping keeps it
 * read-only, so a write ends as Solo5's host/guest translation fault) and must stay executable. */
#define AA64_SCTLR (0x1ull | 0x4ull | 0x8ull | 0x1000ull | 0x30d00800ull)
#define AA64_SCTLR_WXN 0x80000ull
#define AA64_CPACR (3ull << 20)   /* FPEN: FP/SIMD without traps */
#define AA64_PSTATE_EL1H 0x3c5ull /* EL1 with SP_EL1, D A I F masked */

/* Largest guest memory the tables cover (the hypercall MMIO range starts above it). */
#define AA64_MAX_MEM (4ull << 30)

/*
 * Writes the vectors, the hypercall stub and the page tables into mem. Pages: 0 unmapped; the
 * vectors/stub page EL1 read+execute; the rest of the first MiB and everything from kernel_end
 * read+write, never executable (2 MiB blocks where possible); the kernel range per
 * elf_page_perm at 4 KiB; 4-5 GiB Device memory for the hypercall stores. 0 or -ENOMEM when
 * the kernel range needs more tables than the pool holds, -EINVAL for a bad mem_size.
 */
int aarch64_setup(uint8_t *mem, uint64_t mem_size, const struct elf_image *img);

/* Walks the tables in mem like the MMU: the leaf descriptor for addr, 0 if not mapped. */
uint64_t aarch64_translate(const uint8_t *mem, uint64_t mem_size, uint64_t addr);

/* Name of an exception class (ESR_EL1.EC). */
const char *aarch64_ec_name(unsigned ec);

#endif /* FUNK_MONITOR_AARCH64_H */
