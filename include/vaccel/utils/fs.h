/* SPDX-License-Identifier: Apache-2.0 */
/* fs_file_read(): the helper vAccel's examples include as "utils/fs.h", so they build unchanged. */
#ifndef FUNK_VACCEL_UTILS_FS_H
#define FUNK_VACCEL_UTILS_FS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a whole regular file into a malloc()ed buffer; 0 or a positive errno. */
int fs_file_read(const char *path, void **data, size_t *size);

#ifdef __cplusplus
}
#endif

#endif
