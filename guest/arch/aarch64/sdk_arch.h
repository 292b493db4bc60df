/* SPDX-License-Identifier: Apache-2.0 */
/* Guest SDK, aarch64 part: the cycle counter (the virtual counter, CNTVCT_EL0, at the frequency
 * the monitor passes as cpu_cycle_freq), readable at EL1 under KVM and at EL0 in a process. */
#ifndef FUNK_GUEST_SDK_ARCH_H
#define FUNK_GUEST_SDK_ARCH_H

#include <stdint.h>

static inline uint64_t sdk_arch_cycles(void)
{
    uint64_t v;
    __asm__ __volatile__("isb\n\tmrs %0, cntvct_el0" : "=r"(v));
    return v;
}

#endif
