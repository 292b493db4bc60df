/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the Linux-guest ELF loader (linux_elf.c) on arbitrary images. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

#define FUZZ_MEM (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The loader's only outside calls (vm.c, linux_bundle.c, linux_kvm_x86_64.c, process_linux.c):
 * no log, no bundle here. */
void vm_log(const struct funk_vm *vm, const char *fmt, ...)
{
    (void)vm;
    (void)fmt;
}

/* The copying path (not the launcher's image cache): the image's bytes land in vm.elf_copy,
 * which the checks below compare with the input. */
bool vm_process_legacy(const struct funk_vm *vm)
{
    (void)vm;
    return true;
}

int linux_bundle_build(const char *dir, const struct funk_vm_file *files, size_t nfiles,
                       uint8_t **out, size_t *out_len)
{
    (void)dir;
    (void)files;
    (void)nfiles;
    (void)out;
    (void)out_len;
    return -ENOENT;
}

/* Only for KVM shells (the fuzzed loader runs a process one). */
int linux_kvm_setup(struct funk_vm *vm)
{
    (void)vm;
    abort();
}

/* A program with the funk note gets its hypercall modules set up: none in this harness. */
int hc_setup(struct funk_vm *vm)
{
    (void)vm;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct funk_vm vm;
    static uint8_t *staging;
    if (!staging)
        staging = calloc(1, PROCESS_STAGING_END - PROCESS_MEM_BASE);
    memset(&vm, 0, sizeof vm);
    vm.backend = FUNK_ISOLATION_PROCESS;
    vm.mem_size = FUZZ_MEM;
    vm.staging = staging;
    /* Exact-size heap copy so ASan catches any read past the image. */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    static const char *const argv[] = {"/fuzz", "a", NULL}, *const env[] = {"K=V", NULL};
    struct funk_vm_boot boot = {.argv = argv, .env = env};
    if (linux_vm_load(&vm, buf, size, &boot) == 0) {
        /* An accepted image: every segment inside guest memory below the stack and heap, in
         * order, never writable and executable, its file bytes inside the image; the entry in
         * an executable segment. */
        const struct elf_image *img = &vm.img;
        const struct linux_boot *lb = (const struct linux_boot *)staging;
        int entry_ok = 0;
        if (img->nseg == 0 || img->kernel_end > FUZZ_MEM - lb->stack_size - LINUX_MIN_HEAP ||
            lb->magic != LINUX_BOOT_MAGIC || lb->argc != 2 || lb->envc != 1)
            abort();
        for (unsigned i = 0; i < img->nseg; i++) {
            const struct elf_segment *s = &img->seg[i];
            if (s->vaddr < PROCESS_MEM_BASE || s->vaddr + s->memsz > img->kernel_end ||
                s->filesz > s->memsz || s->offset > size || s->filesz > size - s->offset ||
                (s->perm & (ELF_W | ELF_X)) == (ELF_W | ELF_X) ||
                (i && s->vaddr < img->seg[i - 1].vaddr + img->seg[i - 1].memsz))
                abort();
            if ((s->perm & ELF_X) && img->entry >= s->vaddr && img->entry - s->vaddr < s->memsz)
                entry_ok = 1;
            if (memcmp(vm.elf_copy + s->offset, buf + s->offset, s->filesz) != 0)
                abort();
        }
        if (!entry_ok)
            abort();
        free(vm.elf_copy);
    } else if (vm.err[0] == '\0') {
        abort(); /* every refusal says why */
    }
    free(buf);
    return 0;
}
