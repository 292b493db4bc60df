/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file reading for the cpu tests and bench/cpu (images and models as byte buffers). */
#ifndef FUNK_TESTS_CPU_SLURP_H
#define FUNK_TESTS_CPU_SLURP_H

#include <stdio.h>
#include <stdlib.h>

/* The file's bytes in a malloc'ed buffer (free it), or NULL when it cannot be read whole. */
static inline void *slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        *len = (size_t)n;
    return buf;
}

#endif /* FUNK_TESTS_CPU_SLURP_H */
