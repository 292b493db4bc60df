/* SPDX-License-Identifier: Apache-2.0 */
/* aarch64 guest memory set-up (monitor/aarch64.c): page tables with W^X and no zero page, the
 * hypercall and exception stubs executed for real (this test runs as aarch64 code). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "aarch64.h"
#include "elf_loader.h"
#include "elfgen.h"

#define MEM (8u << 20)

static uint8_t *setup(struct elf_image *img, uint64_t mem_size)
{
    static const uint8_t code[] = {0x00, 0x00, 0x20, 0xd4}; /* brk #0 */
    struct gen g;
    gen_init(&g, code, sizeof code);
    size_t len;
    uint8_t *b = gen_build(&g, &len);
    char err[256];
    assert_int_equal(elf_parse(b, len, mem_size, img, err, sizeof err), 0);
    free(b);
    uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(aarch64_setup(mem, mem_size, img), 0);
    return mem;
}

static bool writable(uint64_t d)
{
    return (d & AA64_AP_RO) == 0;
}

static bool executable(uint64_t d)
{
    return (d & AA64_PXN) == 0;
}

static void test_page_tables(void **state)
{
    (void)state;
    struct elf_image img;
    uint8_t *mem = setup(&img, MEM);
    /* The zero page is not mapped: NULL dereferences fault. */
    assert_int_equal(aarch64_translate(mem, MEM, 0), 0);
    assert_int_equal(aarch64_translate(mem, MEM, 0xfff), 0);
    /* Boot info: read+write, never executable, Normal memory, accessed. */
    uint64_t d = aarch64_translate(mem, MEM, HVT_BOOT_INFO_GPA);
    assert_int_equal(d & AA64_ADDR_MASK, HVT_BOOT_INFO_GPA);
    assert_true(writable(d) && !executable(d));
    assert_true((d & AA64_AF) && (d & AA64_UXN));
    assert_int_equal(d & (7u << 2), AA64_ATTR_NORMAL);
    /* Vectors and hypercall stub: executable at EL1, read-only. */
    d = aarch64_translate(mem, MEM, AA64_STUB_GPA);
    assert_true(executable(d) && !writable(d));
    assert_int_equal(d & AA64_ADDR_MASK, AA64_VECTORS_GPA);
    /* Kernel text R+X, data R+W never executable: no page is both. */
    d = aarch64_translate(mem, MEM, GEN_TEXT);
    assert_int_equal(d & AA64_ADDR_MASK, GEN_TEXT);
    assert_true(executable(d) && !writable(d));
    d = aarch64_translate(mem, MEM, GEN_DATA);
    assert_true(writable(d) && !executable(d));
    for (uint64_t a = 0x1000; a < MEM; a += 4096) {
        d = aarch64_translate(mem, MEM, a);
        assert_true(d != 0);
        assert_false(writable(d) && executable(d));
    }
    /* Heap from 2 MiB on: 2 MiB blocks, R+W, never executable. */
    d = aarch64_translate(mem, MEM, 2u << 20);
    assert_int_equal(d & 3, AA64_DESC_BLOCK);
    assert_int_equal(d & AA64_ADDR_MASK, 2u << 20);
    assert_true(writable(d) && !executable(d));
    /* Beyond guest memory: unmapped; the hypercall range: Device memory, never executable. */
    assert_int_equal(aarch64_translate(mem, MEM, MEM), 0);
    assert_int_equal(aarch64_translate(mem, MEM, MEM + (2u << 20)), 0);
    d = aarch64_translate(mem, MEM, HVT_MMIO_ADDR(HVT_HYPERCALL_PUTS));
    assert_int_equal(d & (7u << 2), AA64_ATTR_DEVICE);
    assert_true(!executable(d) && (d & AA64_UXN));
    assert_int_equal(aarch64_translate(mem, MEM, 5ull << 30), 0);
    /* A plain Solo5 guest (host_ro): text writable in the tables (the host mapping enforces
     * read-only) and still executable; the stub page stays read-only. */
    img.host_ro = true;
    assert_int_equal(aarch64_setup(mem, MEM, &img), 0);
    d = aarch64_translate(mem, MEM, GEN_TEXT);
    assert_true(writable(d) && executable(d));
    d = aarch64_translate(mem, MEM, AA64_STUB_GPA);
    assert_false(writable(d));
    munmap(mem, MEM);
}

/* Runs code copied from guest memory as this process's own, with the hypercall range backed by
 * an ordinary page, so the stores the stubs make can be read back. */
static volatile uint32_t *mmio_page(void)
{
    static void *page;
    if (!page) {
        page = mmap((void *)(uintptr_t)HVT_MMIO_BASE, 4096, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (page != (void *)(uintptr_t)HVT_MMIO_BASE)
            return NULL;
    }
    memset(page, 0, 4096);
    return page;
}

static void *exec_copy(const void *code, size_t len)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    memcpy(p, code, len);
    assert_int_equal(mprotect(p, 4096, PROT_READ | PROT_EXEC), 0);
    __builtin___clear_cache((char *)p, (char *)p + len);
    return p;
}

static void test_hypercall_stub_runs(void **state)
{
    (void)state;
    volatile uint32_t *mmio = mmio_page();
    if (!mmio)
        skip();
    struct elf_image img;
    uint8_t *mem = setup(&img, MEM);
    void *stub = exec_copy(mem + AA64_STUB_GPA, 16);
    void (*hc)(uint64_t, uint64_t) = (void (*)(uint64_t, uint64_t))stub;
    hc(HVT_HYPERCALL_PUTS, 0x10200);
    assert_int_equal(mmio[HVT_HYPERCALL_PUTS * 2], 0x10200);
    hc(FUNK_HC_FN_SEND, 0xfedcba98);
    assert_int_equal(mmio[FUNK_HC_FN_SEND * 2], 0xfedcba98u);
    assert_int_equal(mmio[HVT_HYPERCALL_PUTS * 2], 0x10200); /* untouched */
    munmap(stub, 4096);
    munmap(mem, MEM);
}

static void test_vector_stubs_report(void **state)
{
    (void)state;
    volatile uint32_t *mmio = mmio_page();
    if (!mmio)
        skip();
    struct elf_image img;
    uint8_t *mem = setup(&img, MEM);
    /* Each entry's first four instructions store its index to the FAULT address; run them with
     * a `ret` after (the stub itself then waits forever). */
    for (unsigned v = 0; v < 16; v++) {
        uint32_t code[5];
        memcpy(code, mem + AA64_VECTORS_GPA + v * 0x80, 16);
        code[4] = 0xd65f03c0u; /* ret */
        void *p = exec_copy(code, sizeof code);
        ((void (*)(void))p)();
        assert_int_equal(mmio[FUNK_HC_FAULT * 2], v);
        munmap(p, 4096);
    }
    munmap(mem, MEM);
}

static void test_bad_sizes(void **state)
{
    (void)state;
    struct elf_image img = {.kernel_end = GEN_TEXT + 4096};
    uint8_t *mem = mmap(NULL, 4u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_int_equal(aarch64_setup(mem, (4u << 20) - 4096, &img), -EINVAL);
    assert_int_equal(aarch64_setup(mem, 1u << 20, &img), -EINVAL);
    munmap(mem, 4u << 20);
    /* A kernel too large for the level-3 pool is refused, not overflowed. */
    uint64_t big = 1ull << 30;
    mem =
        mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    img.kernel_end = big - (64u << 20);
    img.nseg = 0;
    assert_int_equal(aarch64_setup(mem, big, &img), -ENOMEM);
    munmap(mem, big);
}

static void test_class_names(void **state)
{
    (void)state;
    assert_string_equal(aarch64_ec_name(0x25), "data abort");
    assert_string_equal(aarch64_ec_name(0x21), "instruction abort");
    assert_string_equal(aarch64_ec_name(0x00), "undefined instruction");
    assert_string_equal(aarch64_ec_name(0x3f), "exception");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_tables),         cmocka_unit_test(test_hypercall_stub_runs),
        cmocka_unit_test(test_vector_stubs_report), cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
