/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5 hvt ABI v2 (x86_64, aarch64) as funk implements it: hypercalls, boot info, ELF notes,
 * manifest. */
#ifndef FUNK_ABI_HVT_H
#define FUNK_ABI_HVT_H

/*
 * Self-contained (C99/C11 headers only), shared by the guest SDK and the monitor. The layouts
 * are those of the public Solo5 hvt ABI version 2 so unmodified Solo5 unikernels run; every
 * layout is pinned below. Host code defines FUNK_ABI_HOST before including this header: guest
 * pointers then become hvt_gpa_t, an integer the host cannot dereference by accident.
 *
 * Calling convention (x86_64): hypercall N is a 32-bit `outl` to port HVT_PIO_BASE + N with the
 * guest-physical address of the argument struct in %eax (so argument structs live below 4 GiB;
 * the monitor refuses structs that are not aligned to 8 bytes or not wholly inside guest memory).
 */

#include <stddef.h>
#include <stdint.h>

#define HVT_ABI_VERSION 2

/* Lowest address a kernel may be loaded at; the first MiB belongs to the monitor. */
#define HVT_GUEST_MIN_BASE 0x100000u

/* Hypercall N is an `outl` to port HVT_PIO_BASE + N. */
#define HVT_PIO_BASE 0x500u

#ifdef FUNK_ABI_HOST
typedef uint64_t hvt_gpa_t;
#define HVT_GUEST_PTR(T) hvt_gpa_t
#else
#define HVT_GUEST_PTR(T) T
#endif

/*
 * aarch64 (Solo5 hvt's convention there): hypercall N is a 32-bit store of the argument's
 * guest-physical address to HVT_MMIO_ADDR(N). Nothing backs that range, so the store exits to
 * the monitor as MMIO; 8-byte spacing keeps every address aligned for Device memory.
 */
#define HVT_MMIO_BASE 0x100000000ull
#define HVT_MMIO_ADDR(n) (HVT_MMIO_BASE + ((uint64_t)(n) << 3))
#define HVT_MMIO_NR(a) (((a)-HVT_MMIO_BASE) >> 3)

/* A guest pointer is always 64 bits wide in these structs. */
#if !defined(FUNK_ABI_HOST) && defined(__x86_64__)
static inline void hvt_do_hypercall(unsigned n, volatile void *arg)
{
    __asm__ __volatile__("outl %0, %1"
                         :
                         : "a"((uint32_t)(uintptr_t)arg), "d"((uint16_t)(HVT_PIO_BASE + n))
                         : "memory");
}
#elif !defined(FUNK_ABI_HOST) && defined(__aarch64__)
static inline void hvt_do_hypercall(unsigned n, volatile void *arg)
{
    __asm__ __volatile__("str %w0, [%1]"
                         :
                         : "rZ"((uint32_t)(uintptr_t)arg), "r"(HVT_MMIO_ADDR(n))
                         : "memory");
}
#endif

/* Solo5 hypercall numbers (1..8); funk extensions start at 32 (see funk.h). */
enum hvt_hypercall {
    HVT_HYPERCALL_WALLTIME = 1,
    HVT_HYPERCALL_PUTS = 2,
    HVT_HYPERCALL_POLL = 3,
    HVT_HYPERCALL_BLOCK_WRITE = 4,
    HVT_HYPERCALL_BLOCK_READ = 5,
    HVT_HYPERCALL_NET_WRITE = 6,
    HVT_HYPERCALL_NET_READ = 7,
    HVT_HYPERCALL_HALT = 8,
    HVT_HYPERCALL_MAX = 9
};

/* Solo5 result codes returned in the `ret` fields below. */
enum hvt_result {
    HVT_R_OK = 0,
    HVT_R_AGAIN = 1,
    HVT_R_EINVAL = 2,
    HVT_R_EUNSPEC = 3
};

/* Guest-physical address of struct hvt_boot_info; %rdi holds it at the entry point. */
#define HVT_BOOT_INFO_GPA 0x10000u
/* Maximum size of the command line, including its terminating NUL. */
#define HVT_CMDLINE_SIZE 8192u

struct hvt_boot_info {
    uint64_t mem_size;       /* bytes of guest memory, starting at 0 */
    uint64_t kernel_end;     /* first byte after the highest loaded segment */
    uint64_t cpu_cycle_freq; /* TSC frequency in Hz (0 when unknown) */
    HVT_GUEST_PTR(const char *) cmdline;
    HVT_GUEST_PTR(const void *) mft; /* the manifest (struct mft), devices marked attached */
};

struct hvt_hc_walltime {
    uint64_t nsecs; /* OUT: nanoseconds since the epoch */
};

struct hvt_hc_puts {
    HVT_GUEST_PTR(const char *) data; /* IN */
    uint64_t len;                     /* IN */
};

struct hvt_hc_block_write {
    uint64_t handle;                  /* IN: manifest index */
    uint64_t offset;                  /* IN: bytes, a multiple of the block size */
    HVT_GUEST_PTR(const void *) data; /* IN */
    uint64_t len;                     /* IN: one block */
    int32_t ret;                      /* OUT: enum hvt_result */
};

struct hvt_hc_block_read {
    uint64_t handle;            /* IN */
    uint64_t offset;            /* IN */
    HVT_GUEST_PTR(void *) data; /* IN */
    uint64_t len;               /* IN/OUT */
    int32_t ret;                /* OUT */
};

struct hvt_hc_net_write {
    uint64_t handle;                  /* IN */
    HVT_GUEST_PTR(const void *) data; /* IN */
    uint64_t len;                     /* IN */
    int32_t ret;                      /* OUT */
};

struct hvt_hc_net_read {
    uint64_t handle;            /* IN */
    HVT_GUEST_PTR(void *) data; /* IN */
    uint64_t len;               /* IN: buffer size; OUT: bytes read */
    int32_t ret;                /* OUT: HVT_R_AGAIN when nothing is pending */
};

struct hvt_hc_poll {
    uint64_t timeout_nsecs; /* IN: relative */
    uint64_t ready_set;     /* OUT: bit i set when device handle i has input */
    int32_t ret;            /* OUT: 1 when something is ready, else 0 */
};

/* The halt cookie (optional) points at up to HVT_HALT_COOKIE_MAX bytes, e.g. a trap frame. */
#define HVT_HALT_COOKIE_MAX 512u

struct hvt_hc_halt {
    HVT_GUEST_PTR(void *) cookie; /* IN: 0 or a guest address */
    int32_t exit_status;          /* IN: becomes the monitor's exit status (& 0xff) */
};

/* ---- ELF notes (owner "Solo5") ---------------------------------------------------------- */

#define HVT_NOTE_OWNER "Solo5"
#define HVT_NOTE_ABI1 0x31494241u /* "ABI1" */
#define HVT_NOTE_MFT1 0x3154464du /* "MFT1" */

enum hvt_abi_target { HVT_ABI_TARGET = 1 };

/* An ELF note header with the 6-byte owner "Solo5\0" padded to 8. */
struct hvt_nhdr {
    uint32_t n_namesz;
    uint32_t n_descsz;
    uint32_t n_type;
    char n_name[8];
};

struct hvt_abi1_info {
    uint32_t abi_target;  /* HVT_ABI_TARGET */
    uint32_t abi_version; /* HVT_ABI_VERSION */
    uint32_t reserved0;
    uint32_t reserved1;
};

/*
 * Note descriptors are placed at the struct's own alignment measured from the note header:
 * n_descsz includes that padding (4 bytes for the manifest, none for ABI1). The monitor accepts
 * exactly this layout.
 */
struct hvt_abi1_note {
    struct hvt_nhdr h;
    struct hvt_abi1_info i;
};

/* ---- Manifest (MFT1) -------------------------------------------------------------------- */

#define MFT_VERSION 1u
#define MFT_MAX_ENTRIES 64u
#define MFT_NAME_SIZE 68u /* bytes including the NUL */

enum mft_type {
    MFT_DEV_BLOCK_BASIC = 1,
    MFT_DEV_NET_BASIC = 2,
    MFT_RESERVED_FIRST = (1u << 30)
};

struct mft_block_basic {
    uint64_t capacity;   /* bytes (filled by the monitor) */
    uint16_t block_size; /* bytes (filled by the monitor) */
};

struct mft_net_basic {
    uint8_t mac[6]; /* filled by the monitor */
    uint16_t mtu;   /* filled by the monitor */
};

struct mft_entry {
    char name[MFT_NAME_SIZE];
    uint32_t type; /* enum mft_type */
    union {
        struct mft_block_basic block_basic;
        struct mft_net_basic net_basic;
    } u;
    union {
        int32_t hostfd; /* host side only; the guest sees -1 */
        uint64_t data;
    } b;
    uint8_t attached; /* 1 once the monitor attached a backend */
    uint8_t pad_[7];
};

struct mft {
    uint32_t version; /* MFT_VERSION */
    uint32_t entries;
    struct mft_entry e[]; /* entries; a note declares a fixed count */
};

/* The MFT1 note: header, 4 bytes of padding (descriptor 8-aligned), then struct mft. */
struct hvt_mft1_nhdr_padded {
    struct hvt_nhdr h;
    uint32_t pad_;
};

/*
 * Guest-side helper to declare a manifest with N entries:
 *   HVT_MFT1_NOTE_DECLARE(2, { .name = "disk", .type = MFT_DEV_BLOCK_BASIC },
 *                            { .name = "net0", .type = MFT_DEV_NET_BASIC });
 */
#define HVT_MFT1_NOTE_DECLARE(N, ...)                                                              \
    const struct {                                                                                 \
        struct hvt_mft1_nhdr_padded h;                                                             \
        uint32_t version;                                                                          \
        uint32_t entries;                                                                          \
        struct mft_entry e[N];                                                                     \
    } __funk_mft1_note __attribute__((section(".note.solo5.manifest"), aligned(8), used)) = {     \
        .h = {.h = {.n_namesz = 6,                                                                 \
                    .n_descsz = 4 + 8 + (N) * sizeof(struct mft_entry),                            \
                    .n_type = HVT_NOTE_MFT1,                                                       \
                    .n_name = HVT_NOTE_OWNER}},                                                    \
        .version = MFT_VERSION,                                                                    \
        .entries = (N),                                                                            \
        .e = {__VA_ARGS__}}

/* Guest-side helper to declare the ABI1 note (every hvt guest needs one). */
#define HVT_ABI1_NOTE_DECLARE()                                                                    \
    const struct hvt_abi1_note __funk_abi1_note                                                    \
        __attribute__((section(".note.solo5.abi"), aligned(4), used)) = {                          \
            .h = {.n_namesz = 6,                                                                   \
                  .n_descsz = sizeof(struct hvt_abi1_info),                                        \
                  .n_type = HVT_NOTE_ABI1,                                                         \
                  .n_name = HVT_NOTE_OWNER},                                                       \
            .i = {.abi_target = HVT_ABI_TARGET, .abi_version = HVT_ABI_VERSION}}

/* ---- Pinned layouts --------------------------------------------------------------------- */
_Static_assert(sizeof(struct hvt_boot_info) == 40, "hvt_boot_info");
_Static_assert(offsetof(struct hvt_boot_info, cmdline) == 24, "hvt_boot_info.cmdline");
_Static_assert(offsetof(struct hvt_boot_info, mft) == 32, "hvt_boot_info.mft");
_Static_assert(sizeof(struct hvt_hc_walltime) == 8, "hvt_hc_walltime");
_Static_assert(sizeof(struct hvt_hc_puts) == 16, "hvt_hc_puts");
_Static_assert(sizeof(struct hvt_hc_block_write) == 40, "hvt_hc_block_write");
_Static_assert(offsetof(struct hvt_hc_block_write, ret) == 32, "hvt_hc_block_write.ret");
_Static_assert(sizeof(struct hvt_hc_block_read) == 40, "hvt_hc_block_read");
_Static_assert(offsetof(struct hvt_hc_block_read, ret) == 32, "hvt_hc_block_read.ret");
_Static_assert(sizeof(struct hvt_hc_net_write) == 32, "hvt_hc_net_write");
_Static_assert(offsetof(struct hvt_hc_net_write, ret) == 24, "hvt_hc_net_write.ret");
_Static_assert(sizeof(struct hvt_hc_net_read) == 32, "hvt_hc_net_read");
_Static_assert(offsetof(struct hvt_hc_net_read, ret) == 24, "hvt_hc_net_read.ret");
_Static_assert(sizeof(struct hvt_hc_poll) == 24, "hvt_hc_poll");
_Static_assert(offsetof(struct hvt_hc_poll, ret) == 16, "hvt_hc_poll.ret");
_Static_assert(sizeof(struct hvt_hc_halt) == 16, "hvt_hc_halt");
_Static_assert(offsetof(struct hvt_hc_halt, exit_status) == 8, "hvt_hc_halt.exit_status");
_Static_assert(sizeof(struct hvt_nhdr) == 20, "hvt_nhdr");
_Static_assert(sizeof(struct hvt_abi1_note) == 36, "hvt_abi1_note");
_Static_assert(sizeof(struct hvt_mft1_nhdr_padded) == 24, "mft1 header + padding");
_Static_assert(offsetof(struct mft_entry, type) == 68, "mft_entry.type");
_Static_assert(offsetof(struct mft_entry, u) == 72, "mft_entry.u");
_Static_assert(offsetof(struct mft_entry, b) == 88, "mft_entry.b");
_Static_assert(offsetof(struct mft_entry, attached) == 96, "mft_entry.attached");
_Static_assert(sizeof(struct mft_entry) == 104, "mft_entry");
_Static_assert(sizeof(struct mft) == 8, "mft");

#endif /* FUNK_ABI_HVT_H */
