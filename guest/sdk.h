/* SPDX-License-Identifier: Apache-2.0 */
/* Internal state shared by the guest SDK's files: boot info and the hypercall entry. */
#ifndef FUNK_GUEST_SDK_H
#define FUNK_GUEST_SDK_H

#include <stdint.h>

#include <funk/abi/funk.h>
#include <funk/abi/hvt.h>

#include "sdk_arch.h" /* guest/arch/<cpu>/: the cycle counter */

typedef void (*sdk_hc_fn)(uint64_t nr, uint64_t arg);

extern sdk_hc_fn sdk_hc_entry;
extern const struct hvt_boot_info *sdk_boot;
extern const struct funk_boot_info *sdk_funk; /* NULL for a monitor without funk extensions */

/* One hypercall: arg must be 8-byte aligned guest memory below 4 GiB (stack and heap are). */
static inline void sdk_hypercall(uint64_t nr, void *arg)
{
    sdk_hc_entry(nr, (uint64_t)(uintptr_t)arg);
}

#endif
