/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the ELF + notes loader and the page-table set-up on arbitrary images. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf_loader.h"
#include "x86_64.h"

#define FUZZ_MEM (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *mem;
    if (!mem)
        mem = calloc(1, FUZZ_MEM);
    /* Exact-size heap copy so ASan catches any read past the image. */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct elf_image img;
    char err[256];
    if (elf_parse(buf, size, FUZZ_MEM, &img, err, sizeof err) == 0) {
        /* An accepted image must be safe to copy and map. */
        if (img.kernel_end > FUZZ_MEM || img.entry < HVT_GUEST_MIN_BASE)
            abort();
        elf_copy(&img, buf, mem, false);
        if (x86_setup(mem, FUZZ_MEM, &img) != 0)
            abort();
        if (x86_translate(mem, FUZZ_MEM, 0) != 0)
            abort(); /* the NULL page is never mapped */
    } else if (err[0] == '\0') {
        abort(); /* every refusal says why */
    }
    free(buf);
    return 0;
}
