/* SPDX-License-Identifier: Apache-2.0 */
/* ELF + notes loader for unikernel images: validation on a buffer, then copying into memory. */
#ifndef FUNK_MONITOR_ELF_H
#define FUNK_MONITOR_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FUNK_ABI_HOST
#include <funk/abi/funk.h>
#include <funk/abi/spt.h>

/* The machine of the guests this monitor runs: its own (the process backend runs a guest's code
 * natively, and KVM runs guests of the host's architecture). */
#if defined(__aarch64__)
#define ELF_GUEST_MACHINE EM_AARCH64
#define ELF_GUEST_ARCH "aarch64"
#else
#define ELF_GUEST_MACHINE EM_X86_64
#define ELF_GUEST_ARCH "x86_64"
#endif

#define ELF_MAX_PHDRS 64
#define ELF_MAX_LOADS 16
/* Room the loader keeps free above kernel_end for the guest's stack and heap. */
#define ELF_MIN_FREE 0x10000u

enum elf_perm { ELF_R = 4, ELF_W = 2, ELF_X = 1 };

struct elf_segment {
    uint64_t vaddr;
    uint64_t memsz;
    uint64_t offset;
    uint64_t filesz;
    unsigned perm; /* enum elf_perm bits */
};

struct elf_image {
    uint64_t entry;
    uint64_t kernel_end; /* page-aligned end of the highest segment */
    unsigned nseg;
    struct elf_segment seg[ELF_MAX_LOADS];
    bool has_abi1;
    bool spt; /* ABI1 target spt (Solo5's seccomp tender ABI): the process backend's spt mode */
    bool has_funk;
    struct funk_note_info funk;
    bool has_accel; /* FUNK_NOTE_TYPE_ACCEL note: the guest uses the ACCEL hypercall */
    /* Manifest: points into the image buffer (validated, unaligned-safe copy via mft_entry_at). */
    bool has_mft;
    uint32_t mft_entries;
    uint64_t mft_offset; /* file offset of struct mft */
    uint64_t mft_size;   /* 8 + entries * sizeof(struct mft_entry) */
    /* Set by the monitor, not the loader: read-only segments are enforced in the host mapping
     * (Solo5's semantics: a guest write there ends the run as a host/guest translation fault)
     * and the guest page tables map the kernel writable (execute permission still per page). */
    bool host_ro;
};

/*
 * Validates every header, program header, segment and note of an image for a guest of mem_size
 * bytes. Returns 0 or a negative errno (-ENOEXEC for a malformed or unsupported image,
 * -ENOMEM when it does not fit mem_size, -EINVAL for bad arguments) with a one-line reason in err.
 */
int elf_parse(const void *buf, size_t len, uint64_t mem_size, struct elf_image *img, char *err,
              size_t errlen);

/* Copies the segments into guest memory (mem_size bytes at mem) and zeroes their bss, unless
 * mem_zeroed says the memory is known to hold zeros (a fresh anonymous mapping): zeroing it
 * again would fault in every bss page on the host (Solo5's bindings have 2 MiB of bss: ~0.5 ms
 * under PVM), and the guest may never touch them. */
void elf_copy(const struct elf_image *img, const void *buf, uint8_t *mem, bool mem_zeroed);

/* Permission of the guest page at addr inside [HVT_GUEST_MIN_BASE, kernel_end): the union of
 * the segments that touch it (R|W without X for gaps). */
unsigned elf_page_perm(const struct elf_image *img, uint64_t addr);

#endif /* FUNK_MONITOR_ELF_H */
