/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of guest-pointer checks and the host-built page tables, GDT/IDT and stubs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "elfgen.h"
#include "vm_internal.h"
#include "x86_64.h"

#define MEM (8u << 20)

static void test_gpa_bounds(void **state)
{
    (void)state;
    static uint8_t mem[4096];
    struct funk_vm vm = {.mem = mem, .mem_size = sizeof mem, .mem_end = sizeof mem};
    assert_ptr_equal(vm_gpa(&vm, 0, 4096), mem);
    assert_ptr_equal(vm_gpa(&vm, 4095, 1), mem + 4095);
    assert_ptr_equal(vm_gpa(&vm, 4096, 0), mem + 4096); /* empty range at the end */
    assert_null(vm_gpa(&vm, 4096, 1));
    assert_null(vm_gpa(&vm, 4095, 2));
    assert_null(vm_gpa(&vm, 0, 4097));
    assert_null(vm_gpa(&vm, 4097, 0));
    assert_null(vm_gpa(&vm, UINT64_MAX, 2));     /* gpa + len wraps */
    assert_null(vm_gpa(&vm, 16, UINT64_MAX - 8)); /* len huge */
    assert_null(vm_gpa(&vm, UINT64_MAX, UINT64_MAX));

    /* Process backend: guest memory starts at 0x10000, host pointer = mem + (gpa - base). */
    struct funk_vm pvm = {.mem = mem, .mem_base = 0x10000, .mem_end = 0x11000, .mem_size = 0x11000};
    assert_ptr_equal(vm_gpa(&pvm, 0x10000, 4096), mem);
    assert_ptr_equal(vm_gpa(&pvm, 0x10010, 16), mem + 16);
    assert_null(vm_gpa(&pvm, 0xfff8, 8)); /* below the base */
    assert_null(vm_gpa(&pvm, 0, 1));
    assert_null(vm_gpa(&pvm, 0x10ff8, 16));
}

static uint8_t *setup(struct elf_image *img, uint64_t mem_size)
{
    static const uint8_t code[] = {0xf4};
    struct gen g;
    gen_init(&g, code, sizeof code);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    char err[256];
    assert_int_equal(elf_parse(b, len, mem_size, img, err, sizeof err), 0);
    free(b);
    uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(x86_setup(mem, mem_size, img), 0);
    return mem;
}

static void test_page_tables(void **state)
{
    (void)state;
    struct elf_image img;
    uint8_t *mem = setup(&img, MEM);
    /* NULL page not present: NULL dereferences fault. */
    assert_int_equal(x86_translate(mem, MEM, 0), 0);
    assert_int_equal(x86_translate(mem, MEM, 0xfff), 0);
    /* Monitor area: R+W, NX. */
    uint64_t e = x86_translate(mem, MEM, HVT_BOOT_INFO_GPA);
    assert_true(e & X86_PTE_P);
    assert_true(e & X86_PTE_W);
    assert_true(e & X86_PTE_NX);
    /* Hypercall stub page: executable, read-only. */
    e = x86_translate(mem, MEM, X86_STUB_GPA);
    assert_true(e & X86_PTE_P);
    assert_false(e & X86_PTE_W);
    assert_false(e & X86_PTE_NX);
    /* Kernel text: R+X, not writable (write-to-code faults with CR0.WP). */
    e = x86_translate(mem, MEM, GEN_TEXT);
    assert_int_equal(e & 0x000ffffffffff000ull, GEN_TEXT);
    assert_false(e & X86_PTE_W);
    assert_false(e & X86_PTE_NX);
    assert_false(e & X86_PTE_PS);
    /* Kernel data and bss: R+W, NX. */
    e = x86_translate(mem, MEM, GEN_DATA + 4096);
    assert_true(e & X86_PTE_W);
    assert_true(e & X86_PTE_NX);
    /* Heap above kernel_end in the first 2 MiB: 4 KiB R+W+NX; from 2 MiB on: 2 MiB pages. */
    e = x86_translate(mem, MEM, img.kernel_end);
    assert_true((e & X86_PTE_W) && (e & X86_PTE_NX));
    e = x86_translate(mem, MEM, 2u << 20);
    assert_true((e & X86_PTE_PS) && (e & X86_PTE_W) && (e & X86_PTE_NX));
    assert_int_equal(e & 0x000fffffffe00000ull, 2u << 20);
    e = x86_translate(mem, MEM, MEM - 8);
    assert_true(e & X86_PTE_P);
    /* Beyond guest memory: not present. */
    assert_int_equal(x86_translate(mem, MEM, MEM), 0);
    assert_int_equal(x86_translate(mem, MEM, 1ull << 32), 0);
    /* A plain Solo5 guest (host_ro): the host mapping enforces read-only, so its text is
     * writable in the page tables (a write reaches the host and ends as a translation fault)
     * and stays executable; data stays NX; the stub page stays read-only. */
    img.host_ro = true;
    assert_int_equal(x86_setup(mem, MEM, &img), 0);
    e = x86_translate(mem, MEM, GEN_TEXT);
    assert_true(e & X86_PTE_W);
    assert_false(e & X86_PTE_NX);
    e = x86_translate(mem, MEM, GEN_DATA + 4096);
    assert_true((e & X86_PTE_W) && (e & X86_PTE_NX));
    e = x86_translate(mem, MEM, X86_STUB_GPA);
    assert_false(e & X86_PTE_W);
    munmap(mem, MEM);
}

static void test_stubs_and_idt(void **state)
{
    (void)state;
    struct elf_image img;
    uint8_t *mem = setup(&img, MEM);
    /* Hypercall stub: mov %edi,%edx; add $0x500,%edx; mov %esi,%eax; out; ret. */
    static const uint8_t hc[] = {0x89, 0xfa, 0x81, 0xc2, 0x00, 0x05, 0x00, 0x00, 0x89, 0xf0, 0xef, 0xc3};
    assert_memory_equal(mem + X86_STUB_GPA, hc, sizeof hc);
    /* Every exception vector points into the stub page, present, interrupt gate. */
    for (unsigned v = 0; v < 32; v++) {
        const uint8_t *d = mem + X86_IDT_GPA + v * 16;
        uint64_t off = (uint64_t)d[0] | (uint64_t)d[1] << 8 | (uint64_t)d[6] << 16 |
                       (uint64_t)d[7] << 24;
        assert_int_equal(off, X86_EXC_STUB_GPA + v * 16);
        assert_int_equal(d[5], 0x8e);
        assert_int_equal(d[2] | d[3] << 8, X86_GDT_CODE);
    }
    /* #PF (14) has an error code: push $14 directly; #UD (6) pushes a 0 first. */
    assert_int_equal(mem[X86_EXC_STUB_GPA + 14 * 16], 0x6a);
    assert_int_equal(mem[X86_EXC_STUB_GPA + 14 * 16 + 1], 14);
    assert_int_equal(mem[X86_EXC_STUB_GPA + 6 * 16 + 1], 0);
    assert_int_equal(mem[X86_EXC_STUB_GPA + 6 * 16 + 3], 6);
    /* 64-bit code descriptor: L bit set, present. */
    uint64_t cs;
    memcpy(&cs, mem + X86_GDT_GPA + X86_GDT_CODE, 8);
    assert_true(cs & (1ull << 53));
    assert_true(cs & (1ull << 47));
    munmap(mem, MEM);
}

static void test_bad_sizes(void **state)
{
    (void)state;
    struct elf_image img = {.kernel_end = GEN_TEXT + 4096};
    uint8_t *mem = mmap(NULL, 4u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_int_equal(x86_setup(mem, (4u << 20) - 4096, &img), -EINVAL); /* not 2 MiB-aligned */
    assert_int_equal(x86_setup(mem, 1u << 20, &img), -EINVAL);           /* too small */
    munmap(mem, 4u << 20);
    /* A kernel too large for the page-table pool is refused, not overflowed. */
    uint64_t big = 1ull << 30;
    mem = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    img.kernel_end = big - (64u << 20);
    img.nseg = 0;
    assert_int_equal(x86_setup(mem, big, &img), -ENOMEM);
    munmap(mem, big);
}

static void test_vector_names(void **state)
{
    (void)state;
    assert_string_equal(x86_vector_name(14), "page fault");
    assert_string_equal(x86_vector_name(13), "general protection fault");
    assert_string_equal(x86_vector_name(6), "invalid opcode");
    assert_string_equal(x86_vector_name(200), "exception");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpa_bounds),
        cmocka_unit_test(test_page_tables),
        cmocka_unit_test(test_stubs_and_idt),
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_vector_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
