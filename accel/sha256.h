/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 (FIPS 180-4) for resource content hashes. */
#ifndef FUNK_ACCEL_SHA256_H
#define FUNK_ACCEL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct accel_sha256 {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    uint8_t buf[64];
    size_t used;
} accel_sha256;

void accel_sha256_init(accel_sha256 *c);
void accel_sha256_update(accel_sha256 *c, const void *data, size_t len);
void accel_sha256_final(accel_sha256 *c, uint8_t out[32]);
void accel_sha256_digest(const void *data, size_t len, uint8_t out[32]);

#endif
