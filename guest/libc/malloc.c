/* SPDX-License-Identifier: Apache-2.0 */
/* Guest libc heap: first-fit over an address-ordered free list with coalescing, in the arena
 * between the end of the kernel image and the stack. Single-threaded (unikernels have one vCPU). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libc_internal.h"

#define ALIGN 16u
#define MAGIC_USED 0xa110c8edf00dcafeull

/* Every block starts with this header; payload follows, 16-byte aligned. */
struct block {
    size_t size; /* whole block, header included, multiple of ALIGN */
    union {
        struct block *next; /* free: next free block (address order) */
        uint64_t magic;     /* used: MAGIC_USED */
    };
};

_Static_assert(sizeof(struct block) == ALIGN, "header keeps payloads aligned");

static struct block *free_list;
static size_t arena_size;

void libc_heap_init(void *start, size_t len)
{
    uintptr_t a = ((uintptr_t)start + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    uintptr_t end = ((uintptr_t)start + len) & ~(uintptr_t)(ALIGN - 1);
    if (start == NULL || end <= a + 2 * ALIGN) {
        free_list = NULL;
        arena_size = 0;
        return;
    }
    free_list = (struct block *)a;
    free_list->size = end - a;
    free_list->next = NULL;
    arena_size = end - a;
}

void libc_heap_stats(struct libc_heap_stats *st)
{
    st->arena = arena_size;
    st->free_bytes = 0;
    st->free_blocks = 0;
    for (struct block *b = free_list; b != NULL; b = b->next) {
        st->free_bytes += b->size;
        st->free_blocks++;
    }
}

void *malloc(size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / 2)
        return NULL;
    size_t need = (n + sizeof(struct block) + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    struct block **link = &free_list;
    for (struct block *b = free_list; b != NULL; link = &b->next, b = b->next) {
        if (b->size < need)
            continue;
        if (b->size - need >= 2 * ALIGN) {
            struct block *rest = (struct block *)((char *)b + need);
            rest->size = b->size - need;
            rest->next = b->next;
            *link = rest;
            b->size = need;
        } else {
            *link = b->next;
        }
        b->magic = MAGIC_USED;
        return b + 1;
    }
    return NULL;
}

void free(void *p)
{
    if (p == NULL)
        return;
    struct block *b = (struct block *)p - 1;
    if (b->magic != MAGIC_USED)
        libc_abort("free(): invalid pointer or double free");
    /* Insert in address order, then merge with the neighbours that touch it. */
    struct block *prev = NULL, *cur = free_list;
    while (cur != NULL && cur < b) {
        prev = cur;
        cur = cur->next;
    }
    b->next = cur;
    if (cur != NULL && (char *)b + b->size == (char *)cur) {
        b->size += cur->size;
        b->next = cur->next;
    }
    if (prev != NULL) {
        prev->next = b;
        if ((char *)prev + prev->size == (char *)b) {
            prev->size += b->size;
            prev->next = b->next;
        }
    } else {
        free_list = b;
    }
}

void *calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = malloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void *realloc(void *p, size_t n)
{
    if (p == NULL)
        return malloc(n);
    if (n == 0) {
        free(p);
        return NULL;
    }
    struct block *b = (struct block *)p - 1;
    if (b->magic != MAGIC_USED)
        libc_abort("realloc(): invalid pointer");
    size_t have = b->size - sizeof(struct block);
    if (n <= have)
        return p;
    void *q = malloc(n);
    if (q == NULL)
        return NULL;
    memcpy(q, p, have);
    free(p);
    return q;
}
