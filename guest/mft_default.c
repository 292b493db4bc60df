/* SPDX-License-Identifier: Apache-2.0 */
/* The empty device manifest for programs that declare none (linked only when they do not). */
#include <funk/guest.h>

HVT_MFT1_NOTE_DECLARE(1, {.name = "", .type = MFT_RESERVED_FIRST});
