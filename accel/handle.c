/* SPDX-License-Identifier: Apache-2.0 */
/* Handle tables: opaque, generation-checked handles for sessions and resources, with lock-free
 * lookup-and-pin so that the operation hot path takes no lock. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

/* Layout of a handle: kind (8 bits) | generation (24 bits) | slot index + 1 (32 bits).
 * An entry's generation is odd while it is live and even once removed, so a handle (always an
 * odd generation) never matches a removed or reused entry. */
#define GEN_MASK 0xffffffu

static uintptr_t encode(uint8_t kind, uint32_t gen, uint32_t idx)
{
    return ((uintptr_t)kind << 56) | ((uintptr_t)(gen & GEN_MASK) << 32) | ((uintptr_t)idx + 1);
}

static bool decode(const struct accel_htable *t, uintptr_t h, uint32_t *idx, uint32_t *gen)
{
    if ((uint8_t)(h >> 56) != t->kind || (uint32_t)h == 0)
        return false;
    *idx = (uint32_t)h - 1;
    *gen = (uint32_t)(h >> 32) & GEN_MASK;
    return (*gen & 1) != 0;
}

/* Segment k holds ACCEL_HSEG0 << k entries and starts at index ACCEL_HSEG0 * (2^k - 1);
 * segments never move, so readers need no lock. */
static struct accel_hentry *entry(const struct accel_htable *t, uint32_t idx)
{
    uint32_t q = idx / ACCEL_HSEG0 + 1;
    unsigned k = 31u - (unsigned)__builtin_clz(q);
    if (k >= ACCEL_HNSEG)
        return NULL;
    struct accel_hentry *seg = atomic_load_explicit(&t->seg[k], memory_order_acquire);
    if (seg == NULL)
        return NULL;
    return &seg[idx - ACCEL_HSEG0 * ((1u << k) - 1)];
}

static int grow_locked(struct accel_htable *t)
{
    unsigned k = t->nseg;
    if (k >= ACCEL_HNSEG)
        return -ENOMEM;
    uint32_t n = ACCEL_HSEG0 << k, base = ACCEL_HSEG0 * ((1u << k) - 1);
    struct accel_hentry *seg = calloc(n, sizeof(*seg));
    if (seg == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        seg[i].next_free = (i + 1 < n) ? base + i + 2 : 0;
    atomic_store_explicit(&t->seg[k], seg, memory_order_release);
    t->nseg = k + 1;
    t->free_head = base + 1;
    atomic_store_explicit(&t->cap, base + n, memory_order_release);
    return 0;
}

int accel_htable_add(struct accel_htable *t, void *obj, uintptr_t *handle)
{
    pthread_mutex_lock(&t->lock);
    int rc = 0;
    if (t->free_head == 0 && (rc = grow_locked(t)) < 0)
        goto out;
    uint32_t idx = t->free_head - 1;
    struct accel_hentry *e = entry(t, idx);
    t->free_head = e->next_free;
    e->next_free = 0;
    atomic_store_explicit(&e->obj, obj, memory_order_relaxed);
    uint32_t gen = (uint32_t)(atomic_load(&e->st) >> 32) + 1; /* even -> odd: live */
    atomic_store_explicit(&e->st, ((uint64_t)gen << 32) | 1u, memory_order_release);
    *handle = encode(t->kind, gen, idx);
out:
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void *accel_htable_acquire(const struct accel_htable *t, uintptr_t h)
{
    uint32_t idx, gen;
    if (!decode(t, h, &idx, &gen))
        return NULL;
    struct accel_hentry *e = entry(t, idx);
    if (e == NULL)
        return NULL;
    uint64_t st = atomic_load_explicit(&e->st, memory_order_acquire);
    do {
        if ((((uint32_t)(st >> 32)) & GEN_MASK) != gen || (uint32_t)st == 0)
            return NULL;
    } while (!atomic_compare_exchange_weak_explicit(&e->st, &st, st + 1, memory_order_acquire,
                                                    memory_order_acquire));
    return atomic_load_explicit(&e->obj, memory_order_relaxed);
}

void *accel_htable_acquire_at(const struct accel_htable *t, uint32_t idx, uintptr_t *h)
{
    struct accel_hentry *e = entry(t, idx);
    if (e == NULL)
        return NULL;
    uint64_t st = atomic_load_explicit(&e->st, memory_order_acquire);
    do {
        if (((st >> 32) & 1) == 0 || (uint32_t)st == 0)
            return NULL;
    } while (!atomic_compare_exchange_weak_explicit(&e->st, &st, st + 1, memory_order_acquire,
                                                    memory_order_acquire));
    *h = encode(t->kind, (uint32_t)(st >> 32), idx);
    return atomic_load_explicit(&e->obj, memory_order_relaxed);
}

void *accel_htable_remove(struct accel_htable *t, uintptr_t h)
{
    uint32_t idx, gen;
    if (!decode(t, h, &idx, &gen))
        return NULL;
    struct accel_hentry *e = entry(t, idx);
    if (e == NULL)
        return NULL;
    uint64_t st = atomic_load_explicit(&e->st, memory_order_acquire);
    uint64_t dead;
    do {
        if ((((uint32_t)(st >> 32)) & GEN_MASK) != gen || (uint32_t)st == 0)
            return NULL;
        dead = ((uint64_t)((uint32_t)(st >> 32) + 1) << 32) | (uint32_t)st;
    } while (!atomic_compare_exchange_weak_explicit(&e->st, &st, dead, memory_order_acq_rel,
                                                    memory_order_acquire));
    return atomic_load_explicit(&e->obj, memory_order_relaxed);
}

void accel_htable_put(struct accel_htable *t, uintptr_t h)
{
    uint32_t idx = (uint32_t)h - 1;
    struct accel_hentry *e = entry(t, idx);
    uint64_t old = atomic_fetch_sub_explicit(&e->st, 1, memory_order_acq_rel);
    if ((uint32_t)old != 1)
        return;
    /* Last pin: the entry is dead (removal keeps the table's pin until its caller's put). */
    void *obj = atomic_load_explicit(&e->obj, memory_order_relaxed);
    t->destroy(obj);
    pthread_mutex_lock(&t->lock);
    atomic_store_explicit(&e->obj, NULL, memory_order_relaxed);
    e->next_free = t->free_head;
    t->free_head = idx + 1;
    pthread_mutex_unlock(&t->lock);
}

uint32_t accel_htable_cap(const struct accel_htable *t)
{
    return atomic_load_explicit(&t->cap, memory_order_acquire);
}
