/* SPDX-License-Identifier: Apache-2.0 */
/* Handle tables: opaque, generation-checked handles for sessions and resources. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

/* Layout of a handle: kind (8 bits) | generation (24 bits) | slot index + 1 (32 bits). */
#define GEN_MASK 0xffffffu

static uintptr_t encode(uint8_t kind, uint32_t gen, uint32_t idx)
{
    return ((uintptr_t)kind << 56) | ((uintptr_t)(gen & GEN_MASK) << 32) | ((uintptr_t)idx + 1);
}

static struct accel_hentry *decode(const struct accel_htable *t, uintptr_t h)
{
    if ((uint8_t)(h >> 56) != t->kind)
        return NULL;
    uint32_t idx1 = (uint32_t)h;
    if (idx1 == 0 || idx1 > t->cap)
        return NULL;
    struct accel_hentry *e = &t->e[idx1 - 1];
    if (e->obj == NULL || (e->gen & GEN_MASK) != ((h >> 32) & GEN_MASK))
        return NULL;
    return e;
}

int accel_htable_add(struct accel_htable *t, void *obj, uintptr_t *handle)
{
    if (t->free_head == 0) {
        uint32_t ncap = t->cap ? t->cap * 2 : 64;
        if (ncap <= t->cap || ncap > UINT32_MAX / 2)
            return -ENOMEM;
        struct accel_hentry *ne = realloc(t->e, (size_t)ncap * sizeof(*ne));
        if (ne == NULL)
            return -ENOMEM;
        for (uint32_t i = t->cap; i < ncap; i++) {
            ne[i].obj = NULL;
            ne[i].gen = 1;
            ne[i].next_free = (i + 1 < ncap) ? i + 2 : 0;
        }
        t->e = ne;
        t->free_head = t->cap + 1;
        t->cap = ncap;
    }
    uint32_t idx = t->free_head - 1;
    struct accel_hentry *e = &t->e[idx];
    t->free_head = e->next_free;
    e->obj = obj;
    e->next_free = 0;
    t->live++;
    *handle = encode(t->kind, e->gen, idx);
    return 0;
}

void *accel_htable_get(const struct accel_htable *t, uintptr_t handle)
{
    struct accel_hentry *e = decode(t, handle);
    return e ? e->obj : NULL;
}

void *accel_htable_remove(struct accel_htable *t, uintptr_t handle)
{
    struct accel_hentry *e = decode(t, handle);
    if (e == NULL)
        return NULL;
    void *obj = e->obj;
    e->obj = NULL;
    e->gen = (e->gen + 1) & GEN_MASK;
    if (e->gen == 0)
        e->gen = 1;
    e->next_free = t->free_head;
    t->free_head = (uint32_t)(e - t->e) + 1;
    t->live--;
    return obj;
}

void *accel_htable_at(const struct accel_htable *t, uint32_t i, uintptr_t *handle)
{
    if (i >= t->cap || t->e[i].obj == NULL)
        return NULL;
    *handle = encode(t->kind, t->e[i].gen, i);
    return t->e[i].obj;
}
