/* SPDX-License-Identifier: Apache-2.0 */
/* strings.h of the guest libc: the case-insensitive comparisons live in string.h. */
#ifndef FUNK_GUEST_STRINGS_H
#define FUNK_GUEST_STRINGS_H
#include <string.h>
#endif
