/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and matching of FUNK_ACCEL_OPENCL_DEVICE ("P:D" indices or a name substring). */
#include "opencl_select.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int parse_index(const char *s, const char *end, unsigned *out)
{
    if (s == end)
        return -EINVAL;
    unsigned long v = 0;
    for (const char *p = s; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > UINT_MAX / 16)
            return -EINVAL;
    }
    *out = (unsigned)v;
    return 0;
}

int ocl_select_parse(const char *spec, ocl_select *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (!spec || !*spec)
        return 0;
    const char *colon = strchr(spec, ':');
    if (!colon) {
        out->kind = OCL_SELECT_NAME;
        out->name = spec;
        return 0;
    }
    /* "P:D" must be exactly two decimal numbers; a name may not contain ':' */
    if (strchr(colon + 1, ':'))
        return -EINVAL;
    unsigned p, d;
    if (parse_index(spec, colon, &p) < 0 || parse_index(colon + 1, colon + strlen(colon), &d) < 0)
        return -EINVAL;
    out->kind = OCL_SELECT_INDEX;
    out->platform = p;
    out->device = d;
    return 0;
}

bool ocl_name_matches(const char *haystack, const char *needle)
{
    if (!needle || !*needle)
        return true;
    if (!haystack)
        return false;
    size_t hn = strlen(haystack), nn = strlen(needle);
    for (size_t i = 0; i + nn <= hn; i++) {
        size_t j = 0;
        while (j < nn && tolower((unsigned char)haystack[i + j]) == tolower((unsigned char)needle[j]))
            j++;
        if (j == nn)
            return true;
    }
    return false;
}
