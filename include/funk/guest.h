/* SPDX-License-Identifier: Apache-2.0 */
/* The funk guest API (Solo5-like): console, clocks, yield, exit/abort, block and net devices. */
#ifndef FUNK_GUEST_H
#define FUNK_GUEST_H

/*
 * For unikernels linked with libfunk-guest.a. Every call reaches the monitor through the hypercall
 * entry of the funk boot info, so the same ELF runs under the KVM and the process backends.
 * Functions returning int answer 0 or a negative errno (<errno.h>); device handles are manifest
 * indexes found by name with funk_block_acquire()/funk_net_acquire().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <funk/abi/funk.h>
#include <funk/abi/hvt.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t funk_time_t; /* nanoseconds */
typedef uint64_t funk_handle_t;

/* Console (PUTS): one hypercall per call, so write whole lines. */
void funk_console_write(const char *buf, size_t len);

/* Monotonic nanoseconds (TSC scaled by the boot info's frequency; WALLTIME when unknown). */
funk_time_t funk_clock_monotonic(void);
/* Nanoseconds since the Unix epoch (WALLTIME hypercall). */
funk_time_t funk_clock_wall(void);

/* Waits until the monotonic clock reaches `deadline` or a device has input. Returns true when a
 * device is ready; *ready_set (may be NULL) gets bit i set for ready handle i. */
bool funk_yield(funk_time_t deadline, uint64_t *ready_set);

/* Ends the unikernel with `status` as the monitor's exit status (& 0xff). */
_Noreturn void funk_exit(int status);
/* Ends the unikernel as aborted (exit status 255, like Solo5). */
_Noreturn void funk_abort(void);
/* Prints "funk: abort: <why>" and aborts. */
_Noreturn void funk_abort_msg(const char *why);

/* The boot information the monitor handed over (never NULL after start-up). */
const struct hvt_boot_info *funk_boot_info(void);
/* The funk extension (NULL when the monitor did not provide one). */
const struct funk_boot_info *funk_boot_info_ext(void);
/* Which backend runs this guest: FUNK_ISOLATION_KVM or FUNK_ISOLATION_PROCESS. */
enum funk_isolation funk_isolation(void);

/* Environment block (KEY=VALUE strings given to the monitor); NULL when unset. */
const char *funk_getenv(const char *name);

/* ---- Block devices ---------------------------------------------------------------------- */
struct funk_block_info {
    uint64_t capacity;   /* bytes */
    uint64_t block_size; /* bytes; reads and writes are whole blocks at aligned offsets */
};

int funk_block_acquire(const char *name, funk_handle_t *handle, struct funk_block_info *info);
/* len must equal the block size and offset be a multiple of it (-EINVAL otherwise). */
int funk_block_write(funk_handle_t handle, uint64_t offset, const void *buf, size_t len);
int funk_block_read(funk_handle_t handle, uint64_t offset, void *buf, size_t len);

/* ---- Network devices -------------------------------------------------------------------- */
struct funk_net_info {
    uint8_t mac[6];
    uint16_t mtu;
};

int funk_net_acquire(const char *name, funk_handle_t *handle, struct funk_net_info *info);
/* Sends one Ethernet frame. */
int funk_net_write(funk_handle_t handle, const void *buf, size_t len);
/* Receives one frame into buf; -EAGAIN when none is pending. */
int funk_net_read(funk_handle_t handle, void *buf, size_t size, size_t *read_size);

/* ---- Manifest -----------------------------------------------------------------------------
 * Declare the devices the unikernel needs, once per program (at file scope):
 *   FUNK_MANIFEST(2, FUNK_DEV_BLOCK("disk"), FUNK_DEV_NET("service"));
 * The monitor refuses to start the guest unless each one is attached. A program without a
 * FUNK_MANIFEST gets an empty manifest from the SDK. Entry 0 is Solo5's reserved entry, so the
 * first declared device has handle 1. */
#define FUNK_DEV_BLOCK(NAME)                                                                       \
    {                                                                                              \
        .name = NAME, .type = MFT_DEV_BLOCK_BASIC                                                  \
    }
#define FUNK_DEV_NET(NAME)                                                                         \
    {                                                                                              \
        .name = NAME, .type = MFT_DEV_NET_BASIC                                                    \
    }
#define FUNK_MANIFEST(N, ...)                                                                      \
    HVT_MFT1_NOTE_DECLARE((N) + 1, {.name = "", .type = MFT_RESERVED_FIRST}, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* FUNK_GUEST_H */
