/* SPDX-License-Identifier: Apache-2.0 */
/* funk extensions to the hvt guest ABI: funk note, boot-info extension, FN_RECV/FN_SEND, faults. */
#ifndef FUNK_ABI_FUNK_H
#define FUNK_ABI_FUNK_H

/*
 * Self-contained, shared by the guest SDK and the monitor (see hvt.h for FUNK_ABI_HOST).
 *
 * A guest opts in with a "funk" ELF note (FUNK_NOTE_DECLARE). Only such guests get:
 *  - struct funk_boot_info at FUNK_BOOT_INFO_GPA (plain Solo5 guests see only hvt_boot_info);
 *  - hypercalls FUNK_HC_* (numbers from 32; a plain guest using them is ended: unknown port);
 *  - a default IDT whose exception stubs report faults to the monitor.
 *
 * Hypercalls from a funk guest go through funk_boot_info.hypercall, which works under both
 * backends: under KVM it is a monitor-written stub in guest memory (`outl` to HVT_PIO_BASE + nr
 * with the argument address in %eax, then `ret`); under the process backend it is a host
 * function called directly. Signature: void entry(uint64_t nr, uint64_t arg_gpa) (SysV ABI:
 * nr in %rdi, arg in %rsi; it clobbers only rax, rdx and the caller-saved registers). Argument
 * structs must be 8-byte aligned and below 4 GiB. The guest's start code must skip privileged
 * set-up (GDT/IDT/CR writes, `hlt`) when isolation == FUNK_ISOLATION_PROCESS.
 *
 * Guest memory map (both backends; addresses are guest-physical == guest-virtual):
 *   0x00000000-0x00000fff  not present (NULL dereferences fault)
 *   0x00001000-0x0000ffff  monitor: GDT, IDT, page tables, exception + hypercall stubs
 *                          (KVM only; under the process backend this range is unmapped)
 *   0x00010000             struct hvt_boot_info, then struct funk_boot_info at 0x10100
 *   0x00011000             command line (HVT_CMDLINE_SIZE)
 *   0x00013000             manifest copy (struct mft)
 *   0x00015000-0x0001cfff  environment block (FUNK_ENV_MAX bytes)
 *   0x0001d000-0x000fffff  monitor (page-table pool under KVM)
 *   0x00100000-kernel_end  the ELF's PT_LOAD segments: text R+X, rodata R, data/bss R+W+NX
 *   kernel_end-mem_size    heap and stack (R+W+NX); %rsp = mem_size - 8 (as right after a call)
 * Entry: %rdi = HVT_BOOT_INFO_GPA, long mode, flat segments, interrupts off, ring 0 (KVM),
 * CR0.WP set (ring-0 writes to read-only pages fault), EFER.NXE set, SSE enabled (CR4.OSFXSR).
 * Kernel segments: ELF64 ET_EXEC, x86_64, PT_LOAD at >= 0x100000; segments that share a 4 KiB
 * page must not add up to W+X (page-align them in the linker script); notes in PT_NOTE with
 * 4-byte padding; an ABI1 note is required, MFT1 and funk notes are optional.
 */

#include <stddef.h>
#include <stdint.h>

#include "hvt.h"

#define FUNK_ABI_VERSION 1u

/* ---- The funk ELF note: owner "funk", type FUNK_NOTE_TYPE, descriptor funk_note_info --- */
#define FUNK_NOTE_OWNER "funk"
#define FUNK_NOTE_TYPE 0x314b4e46u /* "FNK1" */

struct funk_note_info {
    uint32_t abi_version; /* FUNK_ABI_VERSION the guest was built for */
    uint32_t flags;       /* FUNK_NOTE_F_* */
    uint32_t reserved0;
    uint32_t reserved1;
};

/* A second "funk" note of this type (same descriptor) says the guest uses the ACCEL hypercall,
 * so the monitor prepares acceleration before its sandbox (layouts in abi/accel.h). */
#ifndef FUNK_NOTE_TYPE_ACCEL
#define FUNK_NOTE_TYPE_ACCEL 0x414b4e46u /* "FNKA" */
#endif

/* The guest can run under the process backend (no privileged instructions after start). */
#define FUNK_NOTE_F_PROCESS_OK 0x1u

/*
 * Linux guests (funk-monitor --linux, funkd): a static Linux program that carries the funk note
 * (built with `funk-cc --linux`, on musl) makes funk hypercalls as the system call
 * FUNK_LINUX_HC_NR with the hypercall number in %rdi and its argument struct's address in %rsi,
 * exactly the structs above; %rax comes back 0 (or -ENOSYS from a monitor or guest without it).
 * Then the function's I/O is FN_RECV/FN_SEND (one request per call, or a warm loop) and its
 * stdout and stderr are its log; without the note the number is just an unknown system call.
 */
#define FUNK_LINUX_HC_NR 0x4655u

struct funk_note {
    uint32_t n_namesz; /* 5: "funk\0" */
    uint32_t n_descsz; /* sizeof(struct funk_note_info) */
    uint32_t n_type;   /* FUNK_NOTE_TYPE */
    char n_name[8];    /* "funk" padded to 8 */
    struct funk_note_info i;
};

#define FUNK_NOTE_DECLARE(FLAGS)                                                                   \
    const struct funk_note __funk_note __attribute__((section(".note.funk"), aligned(4), used)) =  \
        {.n_namesz = 5,                                                                            \
         .n_descsz = sizeof(struct funk_note_info),                                                \
         .n_type = FUNK_NOTE_TYPE,                                                                 \
         .n_name = FUNK_NOTE_OWNER,                                                                \
         .i = {.abi_version = FUNK_ABI_VERSION, .flags = (FLAGS)}}

/* ---- Boot-info extension ---------------------------------------------------------------- */
#define FUNK_BOOT_INFO_GPA 0x10100u
#define FUNK_BOOT_MAGIC 0x4b4e5546u /* "FUNK" little-endian */
#define FUNK_CMDLINE_GPA 0x11000u
#define FUNK_MFT_GPA 0x13000u
#define FUNK_MFT_MAX 0x2000u
#define FUNK_ENV_GPA 0x15000u
#define FUNK_ENV_MAX 0x8000u /* bytes of KEY=VALUE strings incl. NULs and the final empty one */

enum funk_isolation {
    FUNK_ISOLATION_AUTO = 0, /* only as a request; a running guest sees KVM or PROCESS */
    FUNK_ISOLATION_KVM = 1,
    FUNK_ISOLATION_PROCESS = 2
};

struct funk_boot_info {
    uint32_t magic;     /* FUNK_BOOT_MAGIC */
    uint32_t version;   /* FUNK_ABI_VERSION of the monitor */
    uint64_t hypercall; /* entry: void (*)(uint64_t nr, uint64_t arg_gpa) */
    uint32_t isolation; /* enum funk_isolation: KVM or PROCESS */
    uint32_t env_count; /* number of KEY=VALUE strings */
    HVT_GUEST_PTR(const char *) env; /* "K=V\0K=V\0\0": strings, then an empty one */
    uint64_t env_size;  /* bytes including every NUL */
    uint64_t reserved[4];
};

/* ---- Hypercall numbers (port HVT_PIO_BASE + nr) ---------------------------------------- */
enum funk_hypercall {
    FUNK_HC_FN_RECV = 32, /* struct funk_hc_fn_recv */
    FUNK_HC_FN_SEND = 33, /* struct funk_hc_fn_send */
    FUNK_HC_ACCEL = 34,   /* reserved for the accel transport (issue 4) */
    FUNK_HC_FAULT = 35,   /* monitor's own exception stubs: %eax = address of funk_fault_frame */
    FUNK_HC_MAX = 36
};

/* Result codes of the FN_* hypercalls (the `ret` fields). */
enum funk_fn_result {
    FUNK_FN_OK = 0,
    FUNK_FN_NOMORE = 1,   /* no further request will come: the guest should halt with 0 */
    FUNK_FN_TOOSMALL = 2, /* buffer too small: `needed` says how much; the request is kept */
    FUNK_FN_EINVAL = 3,   /* bad arguments (e.g. a response sent twice, or before a request) */
    FUNK_FN_EIO = 4       /* the host could not deliver the response */
};

/*
 * FN_RECV: the next request is written into [buf, buf+len) as a struct funk_fn_request followed
 * by its strings and body. Offsets are relative to buf; every string is also NUL-terminated
 * (the lengths exclude the NUL). Headers are one text block of "Name: value\n" lines.
 */
struct funk_hc_fn_recv {
    HVT_GUEST_PTR(void *) buf; /* IN: 8-byte aligned */
    uint64_t len;              /* IN: bytes available */
    uint64_t needed;           /* OUT: bytes the request takes (also on FUNK_FN_TOOSMALL) */
    int32_t ret;               /* OUT: enum funk_fn_result */
    uint32_t reserved;
};

struct funk_fn_request {
    uint32_t size; /* bytes used at buf, header included */
    uint32_t flags;
    uint64_t id; /* request id chosen by the host (for logs) */
    uint32_t method_off, method_len;   /* "POST" */
    uint32_t path_off, path_len;       /* "/" */
    uint32_t query_off, query_len;     /* without '?', may be empty */
    uint32_t headers_off, headers_len; /* "Name: value\n" lines */
    uint32_t body_off, body_len;       /* raw bytes (also NUL-terminated) */
};

/* FN_SEND: the response to the current request. Headers use the same line format. */
struct funk_hc_fn_send {
    uint32_t status; /* IN: HTTP status, 100..599 */
    int32_t ret;     /* OUT: enum funk_fn_result */
    HVT_GUEST_PTR(const char *) headers; /* IN: may be 0 when headers_len is 0 */
    uint64_t headers_len;
    HVT_GUEST_PTR(const void *) body; /* IN: may be 0 when body_len is 0 */
    uint64_t body_len;
};

/* What the monitor's exception stubs leave on the stack (lowest address first). */
struct funk_fault_frame {
    uint64_t vector;
    uint64_t error_code; /* 0 for vectors without one */
    uint64_t rip;
    uint64_t cs;
    uint64_t rflags;
    uint64_t rsp;
    uint64_t ss;
};

#if !defined(FUNK_ABI_HOST)
/* Guest side: call hypercall nr through the boot-info entry (works under both backends). */
static inline void funk_hypercall(const struct funk_boot_info *bi, uint64_t nr, volatile void *arg)
{
    ((void (*)(uint64_t, uint64_t))(uintptr_t)bi->hypercall)(nr, (uint64_t)(uintptr_t)arg);
}
#endif

_Static_assert(sizeof(struct funk_note_info) == 16, "funk_note_info");
_Static_assert(sizeof(struct funk_note) == 36, "funk_note");
_Static_assert(sizeof(struct funk_boot_info) == 72, "funk_boot_info");
_Static_assert(offsetof(struct funk_boot_info, hypercall) == 8, "funk_boot_info.hypercall");
_Static_assert(offsetof(struct funk_boot_info, env) == 24, "funk_boot_info.env");
_Static_assert(sizeof(struct funk_hc_fn_recv) == 32, "funk_hc_fn_recv");
_Static_assert(offsetof(struct funk_hc_fn_recv, ret) == 24, "funk_hc_fn_recv.ret");
_Static_assert(sizeof(struct funk_fn_request) == 56, "funk_fn_request");
_Static_assert(offsetof(struct funk_fn_request, body_off) == 48, "funk_fn_request.body_off");
_Static_assert(sizeof(struct funk_hc_fn_send) == 40, "funk_hc_fn_send");
_Static_assert(offsetof(struct funk_hc_fn_send, body) == 24, "funk_hc_fn_send.body");
_Static_assert(sizeof(struct funk_fault_frame) == 56, "funk_fault_frame");
_Static_assert(FUNK_BOOT_INFO_GPA >= HVT_BOOT_INFO_GPA + sizeof(struct hvt_boot_info),
               "boot infos overlap");

#endif /* FUNK_ABI_FUNK_H */
