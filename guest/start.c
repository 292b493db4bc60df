/* SPDX-License-Identifier: Apache-2.0 */
/* Guest start-up in C: hypercall entry, stack guard, heap, constructors, argv, main, halt. Also
 * carries the ELF notes every funk unikernel needs (ABI1 and funk). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <funk/guest.h>

#include "libc/libc_internal.h"
#include "sdk.h"

HVT_ABI1_NOTE_DECLARE();
FUNK_NOTE_DECLARE(FUNK_NOTE_F_PROCESS_OK);

/* The manifest note: the program's FUNK_MANIFEST or, when it has none, the empty one from
 * mft_default.c (this reference pulls that object out of the archive only then). */
extern const struct hvt_mft1_nhdr_padded __funk_mft1_note;
__attribute__((used)) static const void *const manifest_ref = &__funk_mft1_note;

/* Stack space kept free of the heap at the top of guest memory. */
#define STACK_RESERVE (256u * 1024u)
#define ARGV_MAX 64

extern uintptr_t __stack_chk_guard;
extern void (*__init_array_start[])(int, char **, char **);
extern void (*__init_array_end[])(int, char **, char **);
extern char _end[];

int main(int argc, char **argv);

/* A plain Solo5 monitor's hypercall (port I/O on x86_64, an MMIO store on aarch64). */
static void hc_trap(uint64_t nr, uint64_t arg)
{
    hvt_do_hypercall((unsigned)nr, (volatile void *)(uintptr_t)arg);
}

sdk_hc_fn sdk_hc_entry = hc_trap;
const struct hvt_boot_info *sdk_boot;
const struct funk_boot_info *sdk_funk;

static char arg_buf[HVT_CMDLINE_SIZE];
static char *argv_tab[ARGV_MAX + 1];

/* Splits the command line at blanks into argv (argv[0] is "unikernel"); double quotes group. */
static int split_cmdline(const char *cmd)
{
    int argc = 0;
    char *out = arg_buf;
    argv_tab[argc++] = "unikernel";
    if (cmd == NULL)
        return argc;
    const char *p = cmd;
    const char *lim = cmd + HVT_CMDLINE_SIZE - 1;
    while (p < lim && *p) {
        while (p < lim && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= lim || *p == '\0')
            break;
        if (argc == ARGV_MAX)
            break;
        argv_tab[argc++] = out;
        int quoted = 0;
        while (p < lim && *p && (quoted || (*p != ' ' && *p != '\t'))) {
            if (*p == '"')
                quoted = !quoted;
            else
                *out++ = *p;
            p++;
        }
        *out++ = '\0';
    }
    argv_tab[argc] = NULL;
    return argc;
}

__attribute__((noreturn, used, no_stack_protector)) void
__funk_start(const struct hvt_boot_info *bi)
{
    const struct funk_boot_info *fb = (const struct funk_boot_info *)(uintptr_t)FUNK_BOOT_INFO_GPA;
    sdk_boot = bi;
    if (fb->magic == FUNK_BOOT_MAGIC && fb->hypercall != 0) {
        sdk_funk = fb;
        sdk_hc_entry = (sdk_hc_fn)(uintptr_t)fb->hypercall;
    }
    /* No privileged set-up is needed under either backend: the monitor provides the GDT, IDT
     * and page tables under KVM, and the process backend forbids such instructions. */

    /* The canary mixes the cycle counter with layout facts; the low byte is zero so that string
     * overflows cannot reproduce it. */
    uint64_t g = sdk_arch_cycles() * 0x9e3779b97f4a7c15ull;
    g ^= (bi->mem_size << 17) ^ (uint64_t)(uintptr_t)&g;
    __stack_chk_guard = (uintptr_t)(g & ~(uint64_t)0xff);

    uintptr_t heap = ((uintptr_t)_end + 15) & ~(uintptr_t)15;
    if (bi->kernel_end > heap)
        heap = (bi->kernel_end + 15) & ~(uint64_t)15;
    uintptr_t top = bi->mem_size > STACK_RESERVE ? bi->mem_size - STACK_RESERVE : 0;
    libc_heap_init((void *)heap, top > heap ? top - heap : 0);

    int argc = split_cmdline(bi->cmdline);
    for (void (**f)(int, char **, char **) = __init_array_start; f < __init_array_end; f++)
        (*f)(argc, argv_tab, NULL);

    funk_exit(main(argc, argv_tab));
}
