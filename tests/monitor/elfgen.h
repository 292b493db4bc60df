/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: builds small unikernel ELF images in memory (valid ones and crafted broken ones). */
#ifndef FUNK_TESTS_ELFGEN_H
#define FUNK_TESTS_ELFGEN_H

#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUNK_ABI_HOST
#include <funk/abi/funk.h>

#include "elf_loader.h" /* ELF_GUEST_MACHINE */

#define GEN_TEXT 0x100000u
#define GEN_DATA 0x101000u

struct gen_seg {
    uint64_t vaddr;
    const void *data;
    uint64_t filesz;
    uint64_t memsz;
    uint32_t flags;
};

struct gen {
    Elf64_Ehdr eh;
    struct gen_seg seg[8];
    int nseg;
    uint8_t notes[8192];
    size_t notes_len;
    uint8_t data[4096]; /* default data segment contents */
};

/* Appends a note: header, owner (padded to 4), pad bytes, descriptor (padded to 4). */
static inline void gen_note(struct gen *g, const char *owner, uint32_t type, const void *desc,
                            uint32_t descsz, uint32_t pad)
{
    uint8_t *p = g->notes + g->notes_len;
    uint32_t namesz = (uint32_t)strlen(owner) + 1;
    uint32_t hdr[3] = {namesz, descsz + pad, type};
    memcpy(p, hdr, 12);
    memset(p + 12, 0, (namesz + 3) & ~3u);
    memcpy(p + 12, owner, namesz);
    size_t off = 12 + ((namesz + 3) & ~3u);
    memset(p + off, 0, pad);
    memcpy(p + off + pad, desc, descsz);
    g->notes_len += (off + pad + descsz + 3) & ~(size_t)3;
}

static inline void gen_abi1(struct gen *g, uint32_t version)
{
    struct hvt_abi1_info i = {.abi_target = HVT_ABI_TARGET, .abi_version = version};
    gen_note(g, HVT_NOTE_OWNER, HVT_NOTE_ABI1, &i, sizeof i, 0);
}

static inline void gen_funk(struct gen *g)
{
    struct funk_note_info i = {.abi_version = FUNK_ABI_VERSION};
    gen_note(g, FUNK_NOTE_OWNER, FUNK_NOTE_TYPE, &i, sizeof i, 0);
}

/* A manifest with n entries named by names[] of the given types. */
static inline void gen_mft(struct gen *g, unsigned n, const char *const *names, const uint32_t *types)
{
    uint8_t buf[sizeof(struct mft) + 8 * sizeof(struct mft_entry)];
    memset(buf, 0, sizeof buf);
    struct mft m = {.version = MFT_VERSION, .entries = n};
    memcpy(buf, &m, sizeof m);
    for (unsigned i = 0; i < n && i < 8; i++) {
        struct mft_entry e;
        memset(&e, 0, sizeof e);
        strncpy(e.name, names[i], sizeof e.name - 1);
        e.type = types[i];
        memcpy(buf + sizeof m + i * sizeof e, &e, sizeof e);
    }
    gen_note(g, HVT_NOTE_OWNER, HVT_NOTE_MFT1, buf,
             (uint32_t)(sizeof m + n * sizeof(struct mft_entry)), 4);
}

/* A valid default: text (R+X) with code at GEN_TEXT, data (R+W) at GEN_DATA, an ABI1 note. */
static inline void gen_init(struct gen *g, const void *code, size_t codelen)
{
    memset(g, 0, sizeof *g);
    memcpy(g->eh.e_ident, ELFMAG, SELFMAG);
    g->eh.e_ident[EI_CLASS] = ELFCLASS64;
    g->eh.e_ident[EI_DATA] = ELFDATA2LSB;
    g->eh.e_ident[EI_VERSION] = EV_CURRENT;
    g->eh.e_type = ET_EXEC;
    g->eh.e_machine = ELF_GUEST_MACHINE;
    g->eh.e_version = EV_CURRENT;
    g->eh.e_entry = GEN_TEXT;
    g->eh.e_ehsize = sizeof(Elf64_Ehdr);
    g->eh.e_phentsize = sizeof(Elf64_Phdr);
    g->seg[0] = (struct gen_seg){GEN_TEXT, code, codelen, codelen, PF_R | PF_X};
    g->seg[1] = (struct gen_seg){GEN_DATA, g->data, sizeof g->data, sizeof g->data + 4096, PF_R | PF_W};
    g->nseg = 2;
    gen_abi1(g, HVT_ABI_VERSION);
}

/* Serialises the image; *len gets its size. Segment i's bytes sit at file offset 4096*(i+1). */
static inline uint8_t *gen_build(struct gen *g, size_t *len)
{
    size_t nph = (size_t)g->nseg + (g->notes_len ? 1 : 0);
    size_t notes_off = (sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr) + 7) & ~(size_t)7;
    size_t total = 4096 * ((size_t)g->nseg + 1);
    if (g->nseg)
        total += (size_t)g->seg[g->nseg - 1].filesz;
    uint8_t *b = calloc(1, total + g->notes_len + 4096);
    Elf64_Ehdr eh = g->eh;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_phnum = (uint16_t)nph;
    if (g->eh.e_phoff)
        eh.e_phoff = g->eh.e_phoff;
    if (g->eh.e_phnum)
        eh.e_phnum = g->eh.e_phnum;
    memcpy(b, &eh, sizeof eh);
    size_t end = 0;
    for (int i = 0; i < g->nseg; i++) {
        const struct gen_seg *s = &g->seg[i];
        size_t off = 4096 * ((size_t)i + 1);
        Elf64_Phdr ph = {.p_type = PT_LOAD, .p_flags = s->flags, .p_offset = off,
                         .p_vaddr = s->vaddr, .p_paddr = s->vaddr, .p_filesz = s->filesz,
                         .p_memsz = s->memsz, .p_align = 4096};
        memcpy(b + sizeof eh + (size_t)i * sizeof ph, &ph, sizeof ph);
        if (s->data && s->filesz <= 4096 * 4)
            memcpy(b + off, s->data, s->filesz);
        if (s->filesz <= 4096 * 4 && off + s->filesz > end)
            end = off + s->filesz;
    }
    if (g->notes_len) {
        Elf64_Phdr ph = {.p_type = PT_NOTE, .p_flags = PF_R, .p_offset = notes_off,
                         .p_filesz = g->notes_len, .p_memsz = g->notes_len, .p_align = 4};
        memcpy(b + sizeof eh + (size_t)g->nseg * sizeof ph, &ph, sizeof ph);
        memcpy(b + notes_off, g->notes, g->notes_len);
    }
    *len = end > notes_off + g->notes_len ? end : notes_off + g->notes_len;
    return b;
}

/* Program header i of a built image (to corrupt it in place). */
static inline Elf64_Phdr *gen_phdr(uint8_t *b, int i)
{
    return (Elf64_Phdr *)(void *)(b + sizeof(Elf64_Ehdr) + (size_t)i * sizeof(Elf64_Phdr));
}

#endif /* FUNK_TESTS_ELFGEN_H */
