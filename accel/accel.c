/* SPDX-License-Identifier: Apache-2.0 */
/* libfunk-accel entry points (skeleton; the runtime fills in). */
#include <funk/accel.h>

#define FUNK_API __attribute__((visibility("default")))

FUNK_API uint32_t funk_accel_version(void) { return FUNK_ACCEL_VERSION; }
