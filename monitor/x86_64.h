/* SPDX-License-Identifier: Apache-2.0 */
/* x86_64 guest memory set-up done on the host: GDT, TSS, IDT, stubs and identity page tables. */
#ifndef FUNK_MONITOR_X86_64_H
#define FUNK_MONITOR_X86_64_H

#include <stdint.h>

#include "elf_loader.h"

/* Monitor-owned pages in the first MiB (see the memory map in funk/abi/funk.h). */
#define X86_GDT_GPA 0x1000u
#define X86_TSS_GPA 0x1800u
#define X86_PML4_GPA 0x2000u
#define X86_PDPT_GPA 0x3000u
#define X86_PD_GPA 0x4000u /* four PDs: 0x4000-0x7fff, 4 GiB */
#define X86_IDT_GPA 0x8000u
#define X86_STUB_GPA 0x9000u /* hypercall entry stub; exception stubs follow */
#define X86_EXC_STUB_GPA (X86_STUB_GPA + 0x40u)
#define X86_PT_POOL_GPA 0x1d000u
#define X86_PT_POOL_END 0x100000u

#define X86_GDT_CODE 0x08u
#define X86_GDT_DATA 0x10u
#define X86_GDT_TSS 0x18u

#define X86_PTE_P 0x1ull
#define X86_PTE_W 0x2ull
#define X86_PTE_PS 0x80ull
#define X86_PTE_NX (1ull << 63)

/* Largest guest memory the page tables cover. */
#define X86_MAX_MEM (4ull << 30)

/*
 * Writes the GDT, TSS, IDT with exception stubs, the hypercall stub and the page tables into
 * mem. Pages: 0 not present; the stub page R+X; the rest of the first MiB and everything from
 * kernel_end R+W+NX (2 MiB pages where possible); the kernel range per elf_page_perm at 4 KiB.
 * Returns 0 or -ENOMEM when the kernel range needs more page tables than the pool holds.
 */
int x86_setup(uint8_t *mem, uint64_t mem_size, const struct elf_image *img);

/* Walks the page tables in mem like the MMU; returns the leaf entry for addr, 0 if not present. */
uint64_t x86_translate(const uint8_t *mem, uint64_t mem_size, uint64_t addr);

/* Name of an exception vector ("page fault", ...). */
const char *x86_vector_name(unsigned vector);

#endif /* FUNK_MONITOR_X86_64_H */
