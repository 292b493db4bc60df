/* SPDX-License-Identifier: Apache-2.0 */
/* Guest SDK, x86_64 part: the cycle counter (TSC) the clock and the stack canary read. */
#ifndef FUNK_GUEST_SDK_ARCH_H
#define FUNK_GUEST_SDK_ARCH_H

#include <stdint.h>

static inline uint64_t sdk_arch_cycles(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#endif
