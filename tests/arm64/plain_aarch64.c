/* SPDX-License-Identifier: Apache-2.0 */
/* A plain Solo5 hvt guest for aarch64 (ABI1 note, no funk note, no SDK): hypercalls are Solo5
 * hvt's MMIO stores (hvt_do_hypercall). It prints its command line and halts with status 7; with
 * "text" it first writes to its own code, which Solo5's model makes a host/guest translation
 * fault (the host mapping of a plain guest's read-only segments is read-only). */
#include <stddef.h>
#include <stdint.h>

#include <funk/abi/hvt.h>

HVT_ABI1_NOTE_DECLARE();
HVT_MFT1_NOTE_DECLARE(1, {.name = "", .type = MFT_RESERVED_FIRST});

static volatile int32_t status = 7; /* data: the image has a R+W segment like any guest */

extern char __image_start[]; /* guest.ld: the first text page */

static void put(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    struct hvt_hc_puts a = {.data = s, .len = n};
    hvt_do_hypercall(HVT_HYPERCALL_PUTS, &a);
}

__attribute__((noreturn, used)) void plain_main(const struct hvt_boot_info *bi)
{
    put("plain solo5 aarch64: cmdline '");
    put(bi->cmdline);
    put("'\n");
    const char *c = bi->cmdline;
    if (c[0] == 't' && c[1] == 'e' && c[2] == 'x' && c[3] == 't' && c[4] == '\0')
        *(volatile uint32_t *)(uintptr_t)__image_start = 0; /* never returns: the monitor ends the run */
    struct hvt_hc_halt h = {.cookie = NULL, .exit_status = status};
    hvt_do_hypercall(HVT_HYPERCALL_HALT, &h);
    for (;;)
        __asm__ __volatile__("wfi");
}

/* x0 = boot info from the monitor, sp at the top of guest memory. */
__asm__(".section .text.start, \"ax\", %progbits\n"
        ".globl _start\n"
        "_start:\n"
        "    mov x29, xzr\n"
        "    mov x30, xzr\n"
        "    b plain_main\n");
