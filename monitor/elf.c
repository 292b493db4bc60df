/* SPDX-License-Identifier: Apache-2.0 */
/* ELF64 loader for unikernels: strict validation of headers, segments and Solo5/funk notes. */
#include "elf_loader.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PAGE 4096u

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* [off, off+n) inside [0, len), without overflow. */
static bool in_bounds(uint64_t off, uint64_t n, uint64_t len)
{
    return off <= len && n <= len - off;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static unsigned perm_of(uint32_t p_flags)
{
    return ((p_flags & PF_R) ? ELF_R : 0) | ((p_flags & PF_W) ? ELF_W : 0) |
           ((p_flags & PF_X) ? ELF_X : 0);
}

static int parse_mft(const uint8_t *b, uint64_t desc, uint64_t descsz, uint64_t note_start,
                     struct elf_image *img, char *err, size_t errlen)
{
    /* The descriptor holds padding up to 8-byte alignment (from the note start), then struct mft. */
    uint64_t pad = (8 - ((desc - note_start) & 7)) & 7;
    /* Solo5's loader words this case "note does not fall within valid size" (its buggyelf
     * test); keep its phrase so scripts written for solo5-hvt match. */
    if (descsz < pad + sizeof(struct mft))
        return fail(err, errlen, -ENOEXEC,
                    "bad MFT1 note at offset 0x%llx: note does not fall within valid size "
                    "(descriptor %llu bytes, a manifest needs at least %llu)",
                    (unsigned long long)note_start, (unsigned long long)descsz,
                    (unsigned long long)(pad + sizeof(struct mft)));
    struct mft m;
    memcpy(&m, b + desc + pad, sizeof m);
    if (m.version != MFT_VERSION)
        return fail(err, errlen, -ENOEXEC, "bad MFT1 note: manifest version %u, expected %u",
                    m.version, MFT_VERSION);
    if (m.entries > MFT_MAX_ENTRIES)
        return fail(err, errlen, -ENOEXEC, "bad MFT1 note: %u entries (at most %u)", m.entries,
                    MFT_MAX_ENTRIES);
    uint64_t size = sizeof(struct mft) + (uint64_t)m.entries * sizeof(struct mft_entry);
    if (descsz - pad != size)
        return fail(err, errlen, -ENOEXEC,
                    "bad MFT1 note: descriptor is %llu bytes, %u entries need %llu",
                    (unsigned long long)(descsz - pad), m.entries, (unsigned long long)size);
    const uint8_t *e0 = b + desc + pad + sizeof(struct mft);
    for (uint32_t i = 0; i < m.entries; i++) {
        struct mft_entry e;
        memcpy(&e, e0 + (uint64_t)i * sizeof e, sizeof e);
        size_t nl = strnlen(e.name, MFT_NAME_SIZE);
        /* Solo5's tools reserve entry 0 (empty name, MFT_RESERVED_FIRST) for the tender. */
        if (e.type == MFT_RESERVED_FIRST) {
            if (i != 0 || nl == MFT_NAME_SIZE)
                return fail(err, errlen, -ENOEXEC,
                            "bad MFT1 note: reserved entry type at index %u (only 0 may be)", i);
            continue;
        }
        if (nl == 0 || nl == MFT_NAME_SIZE)
            return fail(err, errlen, -ENOEXEC, "bad MFT1 note: entry %u has %s name", i,
                        nl ? "an unterminated" : "an empty");
        if (e.type != MFT_DEV_BLOCK_BASIC && e.type != MFT_DEV_NET_BASIC)
            return fail(err, errlen, -ENOEXEC, "bad MFT1 note: entry '%s' has unknown type %u",
                        e.name, e.type);
        for (uint32_t j = 0; j < i; j++) {
            struct mft_entry o;
            memcpy(&o, e0 + (uint64_t)j * sizeof o, sizeof o);
            if (strcmp(o.name, e.name) == 0)
                return fail(err, errlen, -ENOEXEC, "bad MFT1 note: device '%s' declared twice",
                            e.name);
        }
    }
    img->has_mft = true;
    img->mft_entries = m.entries;
    img->mft_offset = desc + pad;
    img->mft_size = size;
    return 0;
}

static int parse_notes(const uint8_t *b, uint64_t off, uint64_t size, struct elf_image *img,
                       char *err, size_t errlen)
{
    uint64_t pos = 0;
    while (pos < size) {
        if (size - pos < 12)
            return fail(err, errlen, -ENOEXEC, "bad note at offset 0x%llx: truncated header",
                        (unsigned long long)(off + pos));
        uint32_t hdr[3];
        memcpy(hdr, b + off + pos, sizeof hdr);
        uint64_t namesz = hdr[0], descsz = hdr[1], type = hdr[2];
        uint64_t name = pos + 12;
        uint64_t desc = name + align_up(namesz, 4);
        const char *nm = (const char *)b + off + name;
        if (!in_bounds(name, align_up(namesz, 4), size) || !in_bounds(desc, descsz, size)) {
            bool own = namesz == sizeof HVT_NOTE_OWNER && in_bounds(name, namesz, size) &&
                       memcmp(nm, HVT_NOTE_OWNER, namesz) == 0;
            return fail(err, errlen, -ENOEXEC,
                        "bad %s note at offset 0x%llx: note does not fall within valid size "
                        "(name/descriptor %llu/%llu bytes overrun the note segment)",
                        !own ? "ELF" : type == HVT_NOTE_ABI1 ? "ABI1" :
                        type == HVT_NOTE_MFT1 ? "MFT1" : "Solo5",
                        (unsigned long long)(off + pos), (unsigned long long)namesz,
                        (unsigned long long)descsz);
        }
        bool solo5 = namesz == sizeof HVT_NOTE_OWNER && memcmp(nm, HVT_NOTE_OWNER, namesz) == 0;
        bool funk = namesz == sizeof FUNK_NOTE_OWNER && memcmp(nm, FUNK_NOTE_OWNER, namesz) == 0;
        if (solo5 && type == HVT_NOTE_ABI1) {
            if (img->has_abi1)
                return fail(err, errlen, -ENOEXEC, "bad ABI1 note: declared twice");
            if (descsz != sizeof(struct hvt_abi1_info))
                return fail(err, errlen, -ENOEXEC,
                            "bad ABI1 note at offset 0x%llx: note does not fall within valid size "
                            "(descriptor is %llu bytes, expected %zu)",
                            (unsigned long long)(off + pos), (unsigned long long)descsz,
                            sizeof(struct hvt_abi1_info));
            struct hvt_abi1_info ai;
            memcpy(&ai, b + off + desc, sizeof ai);
            if (ai.abi_target != HVT_ABI_TARGET && ai.abi_target != SPT_ABI_TARGET)
                return fail(err, errlen, -ENOEXEC,
                            "unsupported ABI1 target %u (this monitor runs hvt = %u and spt = %u)",
                            ai.abi_target, HVT_ABI_TARGET, SPT_ABI_TARGET);
            bool spt = ai.abi_target == SPT_ABI_TARGET;
            if (ai.abi_version != (spt ? SPT_ABI_VERSION : HVT_ABI_VERSION))
                return fail(err, errlen, -ENOEXEC,
                            "unsupported %s ABI version %u (this monitor speaks %u)",
                            spt ? "spt" : "hvt", ai.abi_version,
                            spt ? SPT_ABI_VERSION : HVT_ABI_VERSION);
            img->spt = spt;
            img->has_abi1 = true;
        } else if (solo5 && type == HVT_NOTE_MFT1) {
            if (img->has_mft)
                return fail(err, errlen, -ENOEXEC, "bad MFT1 note: declared twice");
            int rc = parse_mft(b, off + desc, descsz, off + pos, img, err, errlen);
            if (rc)
                return rc;
        } else if (funk && type == FUNK_NOTE_TYPE) {
            if (img->has_funk)
                return fail(err, errlen, -ENOEXEC, "bad funk note: declared twice");
            if (descsz != sizeof(struct funk_note_info))
                return fail(err, errlen, -ENOEXEC, "bad funk note: descriptor is %llu bytes",
                            (unsigned long long)descsz);
            memcpy(&img->funk, b + off + desc, sizeof img->funk);
            if (img->funk.abi_version == 0 || img->funk.abi_version > FUNK_ABI_VERSION)
                return fail(err, errlen, -ENOEXEC,
                            "guest built for funk ABI %u, this monitor speaks %u",
                            img->funk.abi_version, FUNK_ABI_VERSION);
            img->has_funk = true;
        } else if (funk && type == FUNK_NOTE_TYPE_ACCEL) {
            if (img->has_accel)
                return fail(err, errlen, -ENOEXEC, "bad funk accel note: declared twice");
            if (descsz != sizeof(struct funk_note_info))
                return fail(err, errlen, -ENOEXEC, "bad funk accel note: descriptor is %llu bytes",
                            (unsigned long long)descsz);
            img->has_accel = true;
        }
        uint64_t next = desc + align_up(descsz, 4);
        pos = next < size ? next : size;
    }
    return 0;
}

static int parse_load(const Elf64_Phdr *ph, unsigned idx, size_t len, uint64_t mem_size,
                      struct elf_image *img, char *err, size_t errlen)
{
    if (ph->p_memsz == 0)
        return 0;
    if (img->nseg == ELF_MAX_LOADS)
        return fail(err, errlen, -ENOEXEC, "too many PT_LOAD segments (at most %d)",
                    ELF_MAX_LOADS);
    if (ph->p_filesz > ph->p_memsz)
        return fail(err, errlen, -ENOEXEC, "segment %u: file size 0x%llx exceeds memory size 0x%llx",
                    idx, (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
    if (!in_bounds(ph->p_offset, ph->p_filesz, len))
        return fail(err, errlen, -ENOEXEC,
                    "segment %u: file bytes 0x%llx+0x%llx lie beyond the end of the image (%zu bytes)",
                    idx, (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz, len);
    if (ph->p_align > 1 && (ph->p_align & (ph->p_align - 1)))
        return fail(err, errlen, -ENOEXEC, "segment %u: alignment 0x%llx is not a power of two",
                    idx, (unsigned long long)ph->p_align);
    if (ph->p_paddr != ph->p_vaddr)
        return fail(err, errlen, -ENOEXEC,
                    "segment %u: physical address 0x%llx differs from virtual 0x%llx", idx,
                    (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_vaddr);
    if (ph->p_vaddr < HVT_GUEST_MIN_BASE)
        return fail(err, errlen, -ENOEXEC,
                    "segment %u: address 0x%llx is below the load base 0x%x", idx,
                    (unsigned long long)ph->p_vaddr, HVT_GUEST_MIN_BASE);
    if (!in_bounds(ph->p_vaddr, ph->p_memsz, mem_size))
        return fail(err, errlen, -ENOMEM,
                    "segment %u: 0x%llx+0x%llx lies beyond guest memory (0x%llx bytes); "
                    "raise --mem",
                    idx, (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_memsz,
                    (unsigned long long)mem_size);
    unsigned perm = perm_of(ph->p_flags);
    if ((perm & ELF_W) && (perm & ELF_X))
        return fail(err, errlen, -ENOEXEC,
                    "segment %u at 0x%llx is writable and executable (W+X refused)", idx,
                    (unsigned long long)ph->p_vaddr);
    uint64_t end = ph->p_vaddr + ph->p_memsz;
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct elf_segment *o = &img->seg[i];
        if (ph->p_vaddr < o->vaddr + o->memsz && o->vaddr < end)
            return fail(err, errlen, -ENOEXEC,
                        "segment %u (0x%llx-0x%llx) overlaps an earlier segment (0x%llx-0x%llx)",
                        idx, (unsigned long long)ph->p_vaddr, (unsigned long long)end,
                        (unsigned long long)o->vaddr, (unsigned long long)(o->vaddr + o->memsz));
        /* Pages shared by two segments get both permissions: refuse what adds up to W+X. */
        uint64_t a0 = o->vaddr & ~(uint64_t)(PAGE - 1), a1 = align_up(o->vaddr + o->memsz, PAGE);
        uint64_t b0 = ph->p_vaddr & ~(uint64_t)(PAGE - 1), b1 = align_up(end, PAGE);
        unsigned u = o->perm | perm;
        if (b0 < a1 && a0 < b1 && (u & ELF_W) && (u & ELF_X))
            return fail(err, errlen, -ENOEXEC,
                        "segment %u (0x%llx) shares a page with segment at 0x%llx and together "
                        "they would be W+X: page-align segments",
                        idx, (unsigned long long)ph->p_vaddr, (unsigned long long)o->vaddr);
    }
    img->seg[img->nseg++] = (struct elf_segment){.vaddr = ph->p_vaddr,
                                                 .memsz = ph->p_memsz,
                                                 .offset = ph->p_offset,
                                                 .filesz = ph->p_filesz,
                                                 .perm = perm};
    return 0;
}

int elf_parse(const void *buf, size_t len, uint64_t mem_size, struct elf_image *img, char *err,
              size_t errlen)
{
    if (!buf || !img)
        return fail(err, errlen, -EINVAL, "no image");
    memset(img, 0, sizeof *img);
    const uint8_t *b = buf;
    Elf64_Ehdr eh;
    if (len < sizeof eh)
        return fail(err, errlen, -ENOEXEC, "not an ELF file: %zu bytes is shorter than an ELF header",
                    len);
    memcpy(&eh, b, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return fail(err, errlen, -ENOEXEC, "not an ELF file: bad magic");
    if (eh.e_ident[EI_CLASS] != ELFCLASS64)
        return fail(err, errlen, -ENOEXEC, "not a 64-bit ELF file (class %u)", eh.e_ident[EI_CLASS]);
    if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return fail(err, errlen, -ENOEXEC, "not a little-endian ELF file");
    if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
        return fail(err, errlen, -ENOEXEC, "unknown ELF version");
    if (eh.e_machine != ELF_GUEST_MACHINE)
        return fail(err, errlen, -ENOEXEC, "not an " ELF_GUEST_ARCH " ELF file (machine %u)",
                    eh.e_machine);
    if (eh.e_type == ET_DYN)
        return fail(err, errlen, -ENOEXEC,
                    "ET_DYN (PIE or shared object): a unikernel must be a static ET_EXEC");
    if (eh.e_type != ET_EXEC)
        return fail(err, errlen, -ENOEXEC, "not an executable ELF file (type %u)", eh.e_type);
    if (eh.e_ehsize != sizeof(Elf64_Ehdr) || eh.e_phentsize != sizeof(Elf64_Phdr))
        return fail(err, errlen, -ENOEXEC, "bad ELF header/program header sizes (%u/%u)",
                    eh.e_ehsize, eh.e_phentsize);
    if (eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS)
        return fail(err, errlen, -ENOEXEC, "bad program header count %u (1..%d)", eh.e_phnum,
                    ELF_MAX_PHDRS);
    if (!in_bounds(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len))
        return fail(err, errlen, -ENOEXEC, "program headers at 0x%llx lie beyond the end of the image",
                    (unsigned long long)eh.e_phoff);

    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, b + eh.e_phoff + (uint64_t)i * sizeof ph, sizeof ph);
        int rc = 0;
        switch (ph.p_type) {
        case PT_LOAD:
            rc = parse_load(&ph, i, len, mem_size, img, err, errlen);
            break;
        case PT_NOTE:
            if (!in_bounds(ph.p_offset, ph.p_filesz, len))
                return fail(err, errlen, -ENOEXEC, "note segment %u lies beyond the end of the image",
                            i);
            rc = parse_notes(b, ph.p_offset, ph.p_filesz, img, err, errlen);
            break;
        case PT_DYNAMIC:
            return fail(err, errlen, -ENOEXEC, "dynamically linked (PT_DYNAMIC): a unikernel must be static");
        case PT_TLS:
            /* Solo5's hvt linker script emits one (.tdata/.tbss) since ABI v2: the guest sets up
             * its own TLS block from it, the monitor loads nothing. Only its file bytes are
             * checked, so a tool that reads them does not run off the image. */
            if (ph.p_filesz > ph.p_memsz || !in_bounds(ph.p_offset, ph.p_filesz, len))
                return fail(err, errlen, -ENOEXEC,
                            "TLS segment %u: file bytes 0x%llx+0x%llx (memory size 0x%llx) lie "
                            "beyond the end of the image or exceed its memory size",
                            i, (unsigned long long)ph.p_offset, (unsigned long long)ph.p_filesz,
                            (unsigned long long)ph.p_memsz);
            break;
        default: /* PT_INTERP (Solo5's guard), PT_GNU_STACK, PT_GNU_PROPERTY...: nothing to load */
            break;
        }
        if (rc)
            return rc;
    }
    if (img->nseg == 0)
        return fail(err, errlen, -ENOEXEC, "no loadable segment");
    if (!img->has_abi1)
        return fail(err, errlen, -ENOEXEC,
                    "not a Solo5 hvt unikernel: no ABI1 note (owner \"Solo5\", type ABI1)");
    if (img->spt && img->has_funk)
        return fail(err, errlen, -ENOEXEC,
                    "a funk note in a Solo5 spt guest: funk guests are hvt-format unikernels");
    if (img->has_accel && !img->has_funk)
        return fail(err, errlen, -ENOEXEC, "funk accel note without the funk note");
    bool entry_ok = false;
    uint64_t end = 0;
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct elf_segment *s = &img->seg[i];
        if ((s->perm & ELF_X) && eh.e_entry >= s->vaddr && eh.e_entry < s->vaddr + s->memsz)
            entry_ok = true;
        if (s->vaddr + s->memsz > end)
            end = s->vaddr + s->memsz;
    }
    if (!entry_ok)
        return fail(err, errlen, -ENOEXEC, "entry point 0x%llx is not inside an executable segment",
                    (unsigned long long)eh.e_entry);
    img->entry = eh.e_entry;
    img->kernel_end = align_up(end, PAGE);
    if (img->kernel_end > mem_size || mem_size - img->kernel_end < ELF_MIN_FREE)
        return fail(err, errlen, -ENOMEM,
                    "kernel ends at 0x%llx: guest memory (0x%llx bytes) leaves less than %u KiB "
                    "for stack and heap; raise --mem",
                    (unsigned long long)img->kernel_end, (unsigned long long)mem_size,
                    ELF_MIN_FREE / 1024);
    return 0;
}

void elf_copy(const struct elf_image *img, const void *buf, uint8_t *mem, bool mem_zeroed)
{
    const uint8_t *b = buf;
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct elf_segment *s = &img->seg[i];
        memcpy(mem + s->vaddr, b + s->offset, s->filesz);
        if (!mem_zeroed)
            memset(mem + s->vaddr + s->filesz, 0, s->memsz - s->filesz);
    }
}

unsigned elf_page_perm(const struct elf_image *img, uint64_t addr)
{
    uint64_t p0 = addr & ~(uint64_t)(PAGE - 1), p1 = p0 + PAGE;
    unsigned perm = 0;
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct elf_segment *s = &img->seg[i];
        if (s->vaddr < p1 && p0 < s->vaddr + s->memsz)
            perm |= s->perm | ELF_R;
    }
    return perm ? perm : (ELF_R | ELF_W);
}
