/* SPDX-License-Identifier: Apache-2.0 */
/* What the guest libc needs from its environment: the SDK (or a host unit test) provides these. */
#ifndef FUNK_GUEST_LIBC_INTERNAL_H
#define FUNK_GUEST_LIBC_INTERNAL_H

#include <stddef.h>

/* Writes bytes to the console (PUTS hypercall in the SDK). */
void libc_console_write(const char *buf, size_t len);

/* Ends the program: status as exit code (exit), or as an abort with a message. */
_Noreturn void libc_exit(int status);
_Noreturn void libc_abort(const char *why);

/* Hands the allocator its arena; called once by the start code before constructors. */
void libc_heap_init(void *start, size_t len);

/* Heap statistics for tests and diagnostics. */
struct libc_heap_stats {
    size_t arena;      /* bytes managed */
    size_t free_bytes; /* bytes on the free list (headers included) */
    size_t free_blocks;
};
void libc_heap_stats(struct libc_heap_stats *st);

#endif
