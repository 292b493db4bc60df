/* SPDX-License-Identifier: Apache-2.0 */
/* A quick look for one funk ELF note in an unloaded image (before choosing how to run it). */
#include <elf.h>
#include <errno.h>
#include <string.h>

#define FUNK_ABI_HOST
#include <funk/abi/funk.h>

#include "elf_note.h"

int elf_note_find(const void *elf, size_t len, uint32_t type, unsigned *flags)
{
    return elf_note_find_owned(elf, len, FUNK_NOTE_OWNER, type, flags);
}

/* Finds the note; 1 with the descriptor's file offset and size, 0 not found, -ENOEXEC. */
static int find_note(const void *elf, size_t len, const char *owner, uint32_t type, uint64_t *desc,
                     uint32_t *descsz)
{
    size_t olen = strlen(owner) + 1;
    const unsigned char *b = elf;
    Elf64_Ehdr eh;
    if (elf == NULL || len < sizeof eh)
        return -ENOEXEC;
    memcpy(&eh, b, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
        (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
        return -ENOEXEC;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, b + eh.e_phoff + (size_t)i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_NOTE || ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
            continue;
        uint64_t off = ph.p_offset, end = ph.p_offset + ph.p_filesz;
        while (end - off >= 12) {
            uint32_t nh[3];
            memcpy(nh, b + off, 12);
            uint64_t nsz = ((uint64_t)nh[0] + 3) & ~3ull, dsz = ((uint64_t)nh[1] + 3) & ~3ull;
            if (nsz + dsz > end - off - 12)
                break;
            if (nh[0] == olen && nh[2] == type && memcmp(b + off + 12, owner, olen) == 0) {
                *desc = off + 12 + nsz;
                *descsz = nh[1];
                return 1;
            }
            off += 12 + nsz + dsz;
        }
    }
    return 0;
}

int elf_note_find_owned(const void *elf, size_t len, const char *owner, uint32_t type,
                        unsigned *flags)
{
    uint64_t desc;
    uint32_t dsz;
    if (flags)
        *flags = 0;
    int rc = find_note(elf, len, owner, type, &desc, &dsz);
    struct funk_note_info ni;
    if (rc == 1 && flags && dsz >= sizeof ni) {
        memcpy(&ni, (const unsigned char *)elf + desc, sizeof ni);
        *flags = ni.flags;
    }
    return rc;
}

uint32_t elf_note_solo5_target(const void *elf, size_t len)
{
    uint64_t desc;
    uint32_t dsz;
    struct hvt_abi1_info ai;
    if (find_note(elf, len, HVT_NOTE_OWNER, HVT_NOTE_ABI1, &desc, &dsz) != 1 || dsz < sizeof ai)
        return 0;
    memcpy(&ai, (const unsigned char *)elf + desc, sizeof ai);
    return ai.abi_target;
}
