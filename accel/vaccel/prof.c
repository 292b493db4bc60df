/* SPDX-License-Identifier: Apache-2.0 */
/* vAccel profiling regions: per-region samples (start, duration) on CLOCK_MONOTONIC, printed as
 * "[prof] NAME: total_time: N nsec nr_entries: K" on stderr, like vAccel's. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

EXPORT bool vaccel_prof_enabled(void)
{
    return vaccel_funk_profiling();
}

EXPORT int vaccel_prof_region_init(struct vaccel_prof_region *region, const char *name)
{
    if (region == NULL || name == NULL)
        return VACCEL_EINVAL;
    char *copy = strdup(name);
    if (copy == NULL)
        return VACCEL_ENOMEM;
    *region = (struct vaccel_prof_region){copy, true, 0, NULL, 0};
    return VACCEL_OK;
}

EXPORT int vaccel_prof_region_start(struct vaccel_prof_region *region)
{
    if (!vaccel_prof_enabled())
        return VACCEL_OK;
    if (region == NULL)
        return VACCEL_EINVAL;
    if (region->nr_entries == region->size) {
        size_t n = region->size ? region->size * 2 : 64;
        if (n < region->size || n > SIZE_MAX / sizeof(*region->samples))
            return VACCEL_ENOMEM;
        struct vaccel_prof_sample *s = realloc(region->samples, n * sizeof(*s));
        if (s == NULL)
            return VACCEL_ENOMEM;
        region->samples = s;
        region->size = n;
    }
    region->samples[region->nr_entries++] = (struct vaccel_prof_sample){now_ns(), 0};
    return VACCEL_OK;
}

EXPORT int vaccel_prof_region_stop(const struct vaccel_prof_region *region)
{
    if (!vaccel_prof_enabled())
        return VACCEL_OK;
    if (region == NULL || region->nr_entries == 0)
        return VACCEL_EINVAL;
    struct vaccel_prof_sample *s = &region->samples[region->nr_entries - 1];
    if (s->time != 0)
        return VACCEL_EINVAL; /* stopped already: a start is missing */
    uint64_t t = now_ns() - s->start;
    s->time = t ? t : 1;
    return VACCEL_OK;
}

EXPORT int vaccel_prof_region_print(const struct vaccel_prof_region *region)
{
    if (!vaccel_prof_enabled())
        return VACCEL_OK;
    if (region == NULL || region->name == NULL)
        return VACCEL_EINVAL;
    uint64_t total = 0;
    for (size_t i = 0; i < region->nr_entries; i++)
        total += region->samples[i].time;
    fprintf(stderr, "[prof] %s: total_time: %llu nsec nr_entries: %zu\n", region->name,
            (unsigned long long)total, region->nr_entries);
    return VACCEL_OK;
}

EXPORT int vaccel_prof_region_release(struct vaccel_prof_region *region)
{
    if (region == NULL)
        return VACCEL_EINVAL;
    free(region->samples);
    if (region->name_owned)
        free((char *)region->name);
    *region = (struct vaccel_prof_region){0};
    return VACCEL_OK;
}

EXPORT int vaccel_prof_regions_init(struct vaccel_prof_region *regions, int nregions)
{
    if (regions == NULL || nregions < 0)
        return VACCEL_EINVAL;
    for (int i = 0; i < nregions; i++)
        regions[i] = (struct vaccel_prof_region){regions[i].name, false, 0, NULL, 0};
    return VACCEL_OK;
}

static struct vaccel_prof_region *by_name(struct vaccel_prof_region *r, int n, const char *name)
{
    for (int i = 0; r && name && i < n; i++)
        if (r[i].name && strcmp(r[i].name, name) == 0)
            return &r[i];
    return NULL;
}

EXPORT int vaccel_prof_regions_start_by_name(struct vaccel_prof_region *regions, int nregions,
                                             const char *name)
{
    if (!vaccel_prof_enabled())
        return VACCEL_OK;
    struct vaccel_prof_region *r = by_name(regions, nregions, name);
    return r ? vaccel_prof_region_start(r) : VACCEL_EINVAL;
}

EXPORT int vaccel_prof_regions_stop_by_name(struct vaccel_prof_region *regions, int nregions,
                                            const char *name)
{
    if (!vaccel_prof_enabled())
        return VACCEL_OK;
    struct vaccel_prof_region *r = by_name(regions, nregions, name);
    return r ? vaccel_prof_region_stop(r) : VACCEL_EINVAL;
}

EXPORT int vaccel_prof_regions_print_all(struct vaccel_prof_region *regions, int nregions)
{
    if (regions == NULL || nregions < 0)
        return VACCEL_EINVAL;
    for (int i = 0; i < nregions; i++)
        if (regions[i].nr_entries)
            vaccel_prof_region_print(&regions[i]);
    return VACCEL_OK;
}

EXPORT int vaccel_prof_regions_release(struct vaccel_prof_region *regions, int nregions)
{
    if (regions == NULL || nregions < 0)
        return VACCEL_EINVAL;
    for (int i = 0; i < nregions; i++)
        vaccel_prof_region_release(&regions[i]);
    return VACCEL_OK;
}
