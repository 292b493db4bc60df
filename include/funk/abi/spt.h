/* SPDX-License-Identifier: Apache-2.0 */
/* Solo5 spt ABI v2 (the seccomp tender's guest interface): boot info, ABI1 target, note helper. */
#ifndef FUNK_ABI_SPT_H
#define FUNK_ABI_SPT_H

/*
 * An spt guest is a static ELF the tender loads into its own process at the ELF's link
 * addresses and enters with %rdi = a struct spt_boot_info. The guest makes a fixed handful of
 * Linux system calls itself (Solo5's bindings, sys_linux_x86_64.c), which the tender's seccomp
 * filter allows on exactly its fds:
 *   write(1, ...)                       console (solo5_console_write)
 *   exit_group(status)                  solo5_exit / solo5_abort (255)
 *   clock_gettime(CLOCK_MONOTONIC|CLOCK_REALTIME)
 *   epoll_pwait(epollfd, ...), timerfd_settime(timerfd, ...)    solo5_yield
 *   arch_prctl(ARCH_SET_FS, ...)        its TLS
 *   pread64/pwrite64(block hostfd, buf, block_size, offset <= capacity - block_size)
 *   read/write(net hostfd, ...)
 * The manifest is the hvt one (struct mft, hvt.h) with b.hostfd set to each device's host fd;
 * a net device's fd is in the epoll set with data.u64 = its manifest index.
 */
#include <stddef.h>
#include <stdint.h>

#include "hvt.h"

#define SPT_ABI_TARGET 2u
#define SPT_ABI_VERSION 2u
/* The epoll data word of the internal timerfd (net devices use their manifest index). */
#define SPT_INTERNAL_TIMERFD (~1u)
/* Solo5's spt tender maps guest memory from here (vm.mmap_min_addr); the lowest link address. */
#define SPT_HOST_MEM_BASE 0x10000u
#define SPT_GUEST_MIN_BASE 0x100000u
#define SPT_CMDLINE_SIZE 8192u

struct spt_boot_info {
    uint64_t mem_size;   /* bytes; guest memory is [SPT_HOST_MEM_BASE, mem_size) */
    uint64_t kernel_end; /* first byte after the highest loaded segment */
    HVT_GUEST_PTR(const char *) cmdline;
    HVT_GUEST_PTR(const void *) mft;
    int32_t epollfd; /* solo5_yield's epoll set: the timerfd and the net devices */
    int32_t timerfd; /* CLOCK_MONOTONIC, non-blocking */
};

/* Guest-side helper: the ABI1 note of an spt guest (same note format as hvt, target spt). */
#define SPT_ABI1_NOTE_DECLARE()                                                                    \
    const struct hvt_abi1_note __funk_abi1_note                                                    \
        __attribute__((section(".note.solo5.abi"), aligned(4), used)) = {                          \
            .h = {.n_namesz = 6,                                                                   \
                  .n_descsz = sizeof(struct hvt_abi1_info),                                        \
                  .n_type = HVT_NOTE_ABI1,                                                         \
                  .n_name = HVT_NOTE_OWNER},                                                       \
            .i = {.abi_target = SPT_ABI_TARGET, .abi_version = SPT_ABI_VERSION}}

_Static_assert(sizeof(struct spt_boot_info) == 40, "spt_boot_info");
_Static_assert(offsetof(struct spt_boot_info, cmdline) == 16, "spt_boot_info.cmdline");
_Static_assert(offsetof(struct spt_boot_info, mft) == 24, "spt_boot_info.mft");
_Static_assert(offsetof(struct spt_boot_info, epollfd) == 32, "spt_boot_info.epollfd");
_Static_assert(offsetof(struct spt_boot_info, timerfd) == 36, "spt_boot_info.timerfd");

#endif /* FUNK_ABI_SPT_H */
