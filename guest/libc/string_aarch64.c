/* SPDX-License-Identifier: Apache-2.0 */
/* Guest libc memcpy/memmove/memset on aarch64: 8-byte words, then the tail (unaligned accesses
 * are fine on Normal memory with the MMU on, which both backends give a guest). The loops are
 * kept from being recognised as calls to these very functions. */
#include <stdint.h>
#include <string.h>

#define NO_LOOP_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_LOOP_CALLS void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (; n >= 8; n -= 8, d += 8, s += 8) {
        uint64_t w;
        __builtin_memcpy(&w, s, 8);
        __builtin_memcpy(d, &w, 8);
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

NO_LOOP_CALLS void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0)
        return dst;
    if (d < s || d >= s + n)
        return memcpy(dst, src, n);
    /* dst overlaps above src: copy backwards, whole words from the top, then the head bytes. */
    d += n;
    s += n;
    for (; n >= 8; n -= 8) {
        d -= 8;
        s -= 8;
        uint64_t w;
        __builtin_memcpy(&w, s, 8);
        __builtin_memcpy(d, &w, 8);
    }
    while (n--)
        *--d = *--s;
    return dst;
}

NO_LOOP_CALLS void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    uint64_t v = (uint64_t)(unsigned char)c * 0x0101010101010101ull;
    for (; n >= 8; n -= 8, d += 8)
        __builtin_memcpy(d, &v, 8);
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}
