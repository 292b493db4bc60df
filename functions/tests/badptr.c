/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: hypercalls with bad pointers must end the guest, never the host.
 *   range      PUTS of a buffer past the end of guest memory
 *   overflow   PUTS whose address + length wraps around 2^64
 *   unaligned  an argument struct at an odd address
 *   argrange   an argument struct outside guest memory */
#include <stdio.h>
#include <string.h>

#include <funk/guest.h>

int main(int argc, char **argv)
{
    const struct funk_boot_info *fb = funk_boot_info_ext();
    const char *mode = argc > 1 ? argv[1] : "range";
    if (fb == NULL) {
        printf("badptr: FAIL no funk boot info\n");
        return 1;
    }
    uint64_t mem = funk_boot_info()->mem_size;
    struct hvt_hc_puts a;
    if (strcmp(mode, "range") == 0) {
        a.data = (const char *)(uintptr_t)(mem - 8);
        a.len = 64;
        funk_hypercall(fb, HVT_HYPERCALL_PUTS, &a);
    } else if (strcmp(mode, "overflow") == 0) {
        a.data = (const char *)(uintptr_t)0xffffffffffffff00ull;
        a.len = 0x200;
        funk_hypercall(fb, HVT_HYPERCALL_PUTS, &a);
    } else if (strcmp(mode, "unaligned") == 0) {
        static _Alignas(16) char raw[64];
        char *odd = raw + 1;
        struct hvt_hc_puts u = {.data = "x\n", .len = 2};
        memcpy(odd, &u, sizeof u);
        funk_hypercall(fb, HVT_HYPERCALL_PUTS, odd);
    } else if (strcmp(mode, "argrange") == 0) {
        funk_hypercall(fb, HVT_HYPERCALL_PUTS, (void *)(uintptr_t)(mem + 0x1000));
    } else {
        printf("badptr: unknown mode %s\n", mode);
        return 2;
    }
    printf("badptr: FAIL %s accepted\n", mode);
    return 1;
}
