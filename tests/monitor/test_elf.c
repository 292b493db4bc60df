/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the ELF + notes loader: valid images and crafted invalid ones, each refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "elf_loader.h"
#include "elfgen.h"

#define MEM (8u << 20)

static const uint8_t code[] = {0xf4};

struct res {
    int rc;
    struct elf_image img;
    char err[256];
};

static struct res parse(struct gen *g)
{
    struct res r;
    size_t len;
    uint8_t *b = gen_build(g, &len);
    r.rc = elf_parse(b, len, MEM, &r.img, r.err, sizeof r.err);
    free(b);
    return r;
}

/* Expects a refusal whose message contains `what`. */
static void refused(struct res r, int rc, const char *what)
{
    if (r.rc != rc || !strstr(r.err, what))
        fail_msg("expected %d '%s', got %d '%s'", rc, what, r.rc, r.err);
}

static void test_valid(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    gen_funk(&g);
    const char *names[] = {"", "disk", "net0"};
    uint32_t types[] = {MFT_RESERVED_FIRST, MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC};
    gen_mft(&g, 3, names, types);
    struct res r = parse(&g);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.img.entry, GEN_TEXT);
    assert_int_equal(r.img.nseg, 2);
    assert_int_equal(r.img.kernel_end, GEN_DATA + 8192);
    assert_true(r.img.has_abi1);
    assert_true(r.img.has_funk);
    assert_true(r.img.has_mft);
    assert_int_equal(r.img.mft_entries, 3);
    assert_int_equal(r.img.mft_size, 8 + 3 * sizeof(struct mft_entry));
    assert_int_equal(elf_page_perm(&r.img, GEN_TEXT), ELF_R | ELF_X);
    assert_int_equal(elf_page_perm(&r.img, GEN_DATA + 4096), ELF_R | ELF_W);
}

static void test_copy(void **state)
{
    (void)state;
    struct gen g;
    static const uint8_t text[] = {1, 2, 3, 4};
    gen_init(&g, text, sizeof text);
    memset(g.data, 0x5a, sizeof g.data);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    struct elf_image img;
    char err[256];
    assert_int_equal(elf_parse(b, len, MEM, &img, err, sizeof err), 0);
    uint8_t *mem = malloc(MEM);
    memset(mem, 0xee, MEM);
    elf_copy(&img, b, mem, false);
    assert_memory_equal(mem + GEN_TEXT, text, sizeof text);
    assert_int_equal(mem[GEN_DATA], 0x5a);
    assert_int_equal(mem[GEN_DATA + 4095], 0x5a);
    assert_int_equal(mem[GEN_DATA + 4096], 0); /* bss zeroed */
    assert_int_equal(mem[GEN_DATA + 8191], 0);
    /* Into memory known to be zero the bss is left alone (not faulted in). */
    memset(mem, 0xee, MEM);
    elf_copy(&img, b, mem, true);
    assert_int_equal(mem[GEN_DATA + 4095], 0x5a);
    assert_int_equal(mem[GEN_DATA + 4096], 0xee);
    free(mem);
    free(b);
}

static void test_truncated(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    char err[256];
    struct elf_image img;
    /* Every cut through the headers or the data must be refused, never read past the end. */
    static const size_t cuts[] = {0, 1, 16, 63, 64, 100, 200, 4096, 8191};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        uint8_t *c = malloc(cuts[i] ? cuts[i] : 1);
        memcpy(c, b, cuts[i]);
        assert_int_equal(elf_parse(c, cuts[i], MEM, &img, err, sizeof err), -ENOEXEC);
        assert_true(err[0] != '\0');
        free(c);
    }
    free(b);
}

static void test_bad_magic(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.eh.e_ident[1] = 'X';
    refused(parse(&g), -ENOEXEC, "bad magic");
}

static void test_32bit(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.eh.e_ident[EI_CLASS] = ELFCLASS32;
    refused(parse(&g), -ENOEXEC, "64-bit");
}

static void test_big_endian(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.eh.e_ident[EI_DATA] = ELFDATA2MSB;
    refused(parse(&g), -ENOEXEC, "little-endian");
}

static void test_wrong_machine(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.eh.e_machine = ELF_GUEST_MACHINE == EM_X86_64 ? EM_AARCH64 : EM_X86_64; /* the other one */
    refused(parse(&g), -ENOEXEC, ELF_GUEST_ARCH);
}

static void test_et_dyn(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.eh.e_type = ET_DYN;
    refused(parse(&g), -ENOEXEC, "ET_DYN");
}

static void test_bad_phentsize(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.eh.e_phentsize = 32;
    refused(parse(&g), -ENOEXEC, "sizes");
}

static void test_phoff_overflow(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.eh.e_phoff = UINT64_MAX - 16;
    refused(parse(&g), -ENOEXEC, "beyond the end");
    gen_init(&g, code, sizeof code);
    g.eh.e_phnum = 0xffff;
    refused(parse(&g), -ENOEXEC, "program header count");
}

static void test_overlap(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.seg[1].vaddr = GEN_TEXT; /* data on top of text */
    refused(parse(&g), -ENOEXEC, "overlaps");
}

static void test_beyond_memory(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.seg[1].memsz = MEM; /* runs past the end of guest memory */
    refused(parse(&g), -ENOMEM, "beyond guest memory");
    gen_init(&g, code, sizeof code);
    g.seg[1].vaddr = MEM - 4096; /* fits, but leaves no room for a stack */
    g.seg[1].memsz = 4096;
    refused(parse(&g), -ENOMEM, "raise --mem");
}

static void test_below_base(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.seg[1].vaddr = 0x10000;
    refused(parse(&g), -ENOEXEC, "below the load base");
}

static void test_wx(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.seg[0].flags = PF_R | PF_W | PF_X;
    refused(parse(&g), -ENOEXEC, "W+X");
}

static void test_wx_shared_page(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.seg[1].vaddr = GEN_TEXT + 0x800; /* writable data in the text page */
    refused(parse(&g), -ENOEXEC, "page-align");
}

static void test_huge_sizes(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    struct elf_image img;
    char err[256];
    gen_phdr(b, 1)->p_offset = UINT64_MAX - 8; /* offset + filesz wraps */
    assert_int_equal(elf_parse(b, len, MEM, &img, err, sizeof err), -ENOEXEC);
    assert_non_null(strstr(err, "beyond the end"));
    gen_phdr(b, 1)->p_offset = 8192;
    gen_phdr(b, 1)->p_vaddr = gen_phdr(b, 1)->p_paddr = UINT64_MAX - 4096; /* vaddr + memsz wraps */
    assert_int_equal(elf_parse(b, len, MEM, &img, err, sizeof err), -ENOMEM);
    gen_phdr(b, 1)->p_vaddr = gen_phdr(b, 1)->p_paddr = GEN_DATA;
    gen_phdr(b, 1)->p_filesz = gen_phdr(b, 1)->p_memsz + 1; /* filesz > memsz */
    assert_int_equal(elf_parse(b, len, MEM, &img, err, sizeof err), -ENOEXEC);
    assert_non_null(strstr(err, "exceeds memory size"));
    free(b);
}

static void test_entry_outside_text(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.eh.e_entry = GEN_DATA;
    refused(parse(&g), -ENOEXEC, "entry point");
}

static void test_no_load(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.nseg = 0;
    refused(parse(&g), -ENOEXEC, "no loadable segment");
}

static void test_missing_abi1(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.notes_len = 0;
    refused(parse(&g), -ENOEXEC, "no ABI1 note");
}

static void test_bad_abi_version(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.notes_len = 0;
    gen_abi1(&g, 1);
    refused(parse(&g), -ENOEXEC, "hvt ABI version 1");
    gen_abi1(&g, HVT_ABI_VERSION); /* a second ABI1 note after the first */
    gen_init(&g, code, sizeof code);
    gen_abi1(&g, HVT_ABI_VERSION);
    refused(parse(&g), -ENOEXEC, "declared twice");
}

/* One ABI1 note with this target and version (instead of gen_init's hvt one). */
static struct res parse_target(uint32_t target, uint32_t version, bool funk)
{
    struct gen g;
    gen_init(&g, code, sizeof code);
    g.notes_len = 0;
    struct hvt_abi1_info i = {.abi_target = target, .abi_version = version};
    gen_note(&g, HVT_NOTE_OWNER, HVT_NOTE_ABI1, &i, sizeof i, 0);
    if (funk)
        gen_funk(&g);
    return parse(&g);
}

/* Solo5 spt guests: target 2 is accepted and marked; its own version, no funk note; other
 * targets (virtio, muen...) are refused naming both supported ones. */
static void test_spt_target(void **state)
{
    (void)state;
    struct res r = parse_target(SPT_ABI_TARGET, SPT_ABI_VERSION, false);
    assert_int_equal(r.rc, 0);
    assert_true(r.img.spt);
    assert_true(r.img.has_abi1);
    r = parse_target(HVT_ABI_TARGET, HVT_ABI_VERSION, false);
    assert_int_equal(r.rc, 0);
    assert_false(r.img.spt);
    refused(parse_target(SPT_ABI_TARGET, 1, false), -ENOEXEC, "spt ABI version 1");
    refused(parse_target(3, 2, false), -ENOEXEC, "unsupported ABI1 target 3");
    refused(parse_target(SPT_ABI_TARGET, SPT_ABI_VERSION, true), -ENOEXEC,
            "a funk note in a Solo5 spt guest");
}

static void test_bad_note_sizes(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    /* A note whose namesz runs past the segment. */
    uint32_t hdr[3] = {0xffffffffu, 0, 1};
    memcpy(g.notes + g.notes_len, hdr, sizeof hdr);
    g.notes_len += sizeof hdr;
    refused(parse(&g), -ENOEXEC, "overrun");
    gen_init(&g, code, sizeof code);
    uint32_t hdr2[3] = {4, 0xfffffff0u, 1};
    memcpy(g.notes + g.notes_len, hdr2, sizeof hdr2);
    memcpy(g.notes + g.notes_len + 12, "abc", 4);
    g.notes_len += 16;
    refused(parse(&g), -ENOEXEC, "overrun");
    gen_init(&g, code, sizeof code);
    g.notes_len += 5; /* a truncated header */
    refused(parse(&g), -ENOEXEC, "truncated header");
}

static void test_bad_funk_note(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    struct funk_note_info i = {.abi_version = FUNK_ABI_VERSION + 1};
    gen_note(&g, FUNK_NOTE_OWNER, FUNK_NOTE_TYPE, &i, sizeof i, 0);
    refused(parse(&g), -ENOEXEC, "funk ABI");
    gen_init(&g, code, sizeof code);
    gen_note(&g, FUNK_NOTE_OWNER, FUNK_NOTE_TYPE, &i, 8, 0);
    refused(parse(&g), -ENOEXEC, "bad funk note");
}

static void test_accel_note(void **state)
{
    (void)state;
    struct gen g;
    struct funk_note_info i = {.abi_version = FUNK_ABI_VERSION};
    gen_init(&g, code, sizeof code);
    gen_funk(&g);
    gen_note(&g, FUNK_NOTE_OWNER, FUNK_NOTE_TYPE_ACCEL, &i, sizeof i, 0);
    struct res r = parse(&g);
    assert_int_equal(r.rc, 0);
    assert_true(r.img.has_accel);
    gen_init(&g, code, sizeof code); /* accel note alone */
    gen_note(&g, FUNK_NOTE_OWNER, FUNK_NOTE_TYPE_ACCEL, &i, sizeof i, 0);
    refused(parse(&g), -ENOEXEC, "without the funk note");
    gen_init(&g, code, sizeof code);
    gen_funk(&g);
    gen_note(&g, FUNK_NOTE_OWNER, FUNK_NOTE_TYPE_ACCEL, &i, 4, 0);
    refused(parse(&g), -ENOEXEC, "bad funk accel note");
}

static void test_bad_manifest(void **state)
{
    (void)state;
    struct gen g;
    const char *names[] = {"disk", "disk"};
    uint32_t types[] = {MFT_DEV_BLOCK_BASIC, MFT_DEV_BLOCK_BASIC};
    gen_init(&g, code, sizeof code);
    gen_mft(&g, 2, names, types);
    refused(parse(&g), -ENOEXEC, "declared twice");

    uint32_t badtype[] = {77};
    gen_init(&g, code, sizeof code);
    gen_mft(&g, 1, names, badtype);
    refused(parse(&g), -ENOEXEC, "unknown type");

    const char *empty[] = {""};
    gen_init(&g, code, sizeof code);
    gen_mft(&g, 1, empty, types);
    refused(parse(&g), -ENOEXEC, "empty name");

    /* Reserved entry anywhere but index 0. */
    const char *n2[] = {"disk", ""};
    uint32_t t2[] = {MFT_DEV_BLOCK_BASIC, MFT_RESERVED_FIRST};
    gen_init(&g, code, sizeof code);
    gen_mft(&g, 2, n2, t2);
    refused(parse(&g), -ENOEXEC, "reserved entry");

    /* Entry count that disagrees with the descriptor size. */
    uint8_t buf[8 + sizeof(struct mft_entry)] = {0};
    struct mft m = {.version = MFT_VERSION, .entries = 2};
    memcpy(buf, &m, sizeof m);
    gen_init(&g, code, sizeof code);
    gen_note(&g, HVT_NOTE_OWNER, HVT_NOTE_MFT1, buf, sizeof buf, 4);
    refused(parse(&g), -ENOEXEC, "entries need");

    m.entries = 1000;
    memcpy(buf, &m, sizeof m);
    gen_init(&g, code, sizeof code);
    gen_note(&g, HVT_NOTE_OWNER, HVT_NOTE_MFT1, buf, sizeof buf, 4);
    refused(parse(&g), -ENOEXEC, "at most");

    m.entries = 0;
    m.version = 9;
    memcpy(buf, &m, sizeof m);
    gen_init(&g, code, sizeof code);
    gen_note(&g, HVT_NOTE_OWNER, HVT_NOTE_MFT1, buf, 8, 4);
    refused(parse(&g), -ENOEXEC, "manifest version 9");

    /* An unterminated name. */
    struct mft_entry e;
    memset(&e, 'a', sizeof e.name);
    e.type = MFT_DEV_BLOCK_BASIC;
    m.version = MFT_VERSION;
    m.entries = 1;
    memcpy(buf, &m, sizeof m);
    memcpy(buf + 8, &e, sizeof e);
    gen_init(&g, code, sizeof code);
    gen_note(&g, HVT_NOTE_OWNER, HVT_NOTE_MFT1, buf, sizeof buf, 4);
    refused(parse(&g), -ENOEXEC, "unterminated");
}

/* What Solo5's hvt toolchain emits (solo5_hvt.lds): a PT_TLS header for .tdata/.tbss, an
 * OpenBSD note, the manifest before ABI1, 64 manifest entries. */
static void test_solo5_toolchain(void **state)
{
    (void)state;
    struct gen g;
    static const uint8_t tdata[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    gen_init(&g, code, sizeof code);
    g.seg[2] = (struct gen_seg){GEN_DATA + 0x2000, tdata, sizeof tdata, 16, PF_R};
    g.nseg = 3;
    g.notes_len = 0;
    static uint8_t buf[sizeof(struct mft) + MFT_MAX_ENTRIES * sizeof(struct mft_entry)];
    struct mft m = {.version = MFT_VERSION, .entries = MFT_MAX_ENTRIES};
    memcpy(buf, &m, sizeof m);
    for (unsigned i = 0; i < MFT_MAX_ENTRIES; i++) {
        struct mft_entry e;
        memset(&e, 0, sizeof e);
        if (i == 0) {
            e.type = MFT_RESERVED_FIRST;
        } else {
            snprintf(e.name, sizeof e.name, "storage%u", i - 1);
            e.type = MFT_DEV_BLOCK_BASIC;
        }
        memcpy(buf + sizeof m + i * sizeof e, &e, sizeof e);
    }
    gen_note(&g, HVT_NOTE_OWNER, HVT_NOTE_MFT1, buf, sizeof buf, 4);
    gen_abi1(&g, HVT_ABI_VERSION);
    uint32_t obsd = 0;
    gen_note(&g, "OpenBSD", 1, &obsd, sizeof obsd, 0);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    gen_phdr(b, 2)->p_type = PT_TLS;
    struct elf_image img;
    char err[256];
    int rc = elf_parse(b, len, MEM, &img, err, sizeof err);
    if (rc)
        fail_msg("Solo5-style image refused: %s", err);
    assert_int_equal(img.nseg, 2); /* the TLS template is not loaded by the monitor */
    assert_true(img.has_abi1);
    assert_int_equal(img.mft_entries, MFT_MAX_ENTRIES);
    /* A TLS header whose file bytes are not in the image, or bigger than its memory size. */
    gen_phdr(b, 2)->p_offset = len;
    assert_int_equal(elf_parse(b, len, MEM, &img, err, sizeof err), -ENOEXEC);
    assert_non_null(strstr(err, "TLS segment 2"));
    gen_phdr(b, 2)->p_offset = 4096 * 3;
    gen_phdr(b, 2)->p_memsz = 4;
    assert_int_equal(elf_parse(b, len, MEM, &img, err, sizeof err), -ENOEXEC);
    assert_non_null(strstr(err, "TLS segment 2"));
    free(b);

    /* One entry more than Solo5's maximum. */
    gen_init(&g, code, sizeof code);
    m.entries = MFT_MAX_ENTRIES + 1;
    memcpy(buf, &m, sizeof m);
    gen_note(&g, HVT_NOTE_OWNER, HVT_NOTE_MFT1, buf, 8, 4);
    refused(parse(&g), -ENOEXEC, "at most 64");
}

/* Solo5's buggyelf: an MFT1 note whose n_descsz (1) cannot hold a manifest. Refused naming the
 * note, with the phrase Solo5's loader uses. */
static void test_buggy_mft_note(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    uint8_t one = 1;
    gen_note(&g, HVT_NOTE_OWNER, HVT_NOTE_MFT1, &one, 1, 0);
    struct res r = parse(&g);
    refused(r, -ENOEXEC, "note does not fall within valid size");
    refused(r, -ENOEXEC, "bad MFT1 note");
    /* An ABI1 note whose descriptor runs past its segment is named too. */
    gen_init(&g, code, sizeof code);
    g.notes_len = 0;
    uint32_t hdr[3] = {6, 0x1000, HVT_NOTE_ABI1};
    memcpy(g.notes, hdr, sizeof hdr);
    memcpy(g.notes + 12, "Solo5\0\0", 8);
    g.notes_len = 20;
    r = parse(&g);
    refused(r, -ENOEXEC, "bad ABI1 note");
    refused(r, -ENOEXEC, "note does not fall within valid size");
}

static void test_dynamic(void **state)
{
    (void)state;
    struct gen g;
    gen_init(&g, code, sizeof code);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    gen_phdr(b, 1)->p_type = PT_DYNAMIC;
    struct elf_image img;
    char err[256];
    assert_int_equal(elf_parse(b, len, MEM, &img, err, sizeof err), -ENOEXEC);
    assert_non_null(strstr(err, "PT_DYNAMIC"));
    assert_int_equal(elf_parse(NULL, 0, MEM, &img, err, sizeof err), -EINVAL);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_32bit),
        cmocka_unit_test(test_big_endian),
        cmocka_unit_test(test_wrong_machine),
        cmocka_unit_test(test_et_dyn),
        cmocka_unit_test(test_bad_phentsize),
        cmocka_unit_test(test_phoff_overflow),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_beyond_memory),
        cmocka_unit_test(test_below_base),
        cmocka_unit_test(test_wx),
        cmocka_unit_test(test_wx_shared_page),
        cmocka_unit_test(test_huge_sizes),
        cmocka_unit_test(test_entry_outside_text),
        cmocka_unit_test(test_no_load),
        cmocka_unit_test(test_missing_abi1),
        cmocka_unit_test(test_bad_abi_version),
        cmocka_unit_test(test_spt_target),
        cmocka_unit_test(test_bad_note_sizes),
        cmocka_unit_test(test_bad_funk_note),
        cmocka_unit_test(test_accel_note),
        cmocka_unit_test(test_bad_manifest),
        cmocka_unit_test(test_dynamic),
        cmocka_unit_test(test_solo5_toolchain),
        cmocka_unit_test(test_buggy_mft_note),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
