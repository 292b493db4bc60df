/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and matching of FUNK_ACCEL_OPENCL_DEVICE ("P:D" indices or a name substring). */
#ifndef FUNK_OPENCL_SELECT_H
#define FUNK_OPENCL_SELECT_H

#include <stdbool.h>

typedef enum ocl_select_kind {
    OCL_SELECT_DEFAULT = 0, /* unset or empty: first GPU, else accelerator, else any device */
    OCL_SELECT_INDEX = 1,   /* "P:D": platform P, device D (both decimal, from 0) */
    OCL_SELECT_NAME = 2,    /* anything else: case-insensitive substring of device/platform name */
} ocl_select_kind;

typedef struct ocl_select {
    ocl_select_kind kind;
    unsigned platform;
    unsigned device;
    const char *name; /* points into the parsed string (OCL_SELECT_NAME only) */
} ocl_select;

/* Parses a selector; NULL or "" gives OCL_SELECT_DEFAULT. Returns 0, or -EINVAL for a
 * malformed index pair such as "1:" or ":2" or "1:x" (a string with no ':' is a name). */
int ocl_select_parse(const char *spec, ocl_select *out);

/* True when needle occurs in haystack ignoring ASCII case (an empty needle matches). */
bool ocl_name_matches(const char *haystack, const char *needle);

#endif /* FUNK_OPENCL_SELECT_H */
