/* SPDX-License-Identifier: Apache-2.0 */
/* A quick look for one funk ELF note in an unloaded image (before choosing how to run it). */
#ifndef FUNK_MONITOR_ELF_NOTE_H
#define FUNK_MONITOR_ELF_NOTE_H

#include <stddef.h>
#include <stdint.h>

/* Looks through the PT_NOTE segments of a 64-bit ELF for a note owned by "funk" with the given
 * type (FUNK_NOTE_TYPE, FUNK_NOTE_TYPE_ACCEL). Returns 1 found (*flags, when not NULL, gets the
 * descriptor's flags word, or 0 if it is too short), 0 not found, -ENOEXEC for a buffer that is
 * not such an ELF. Full validation stays the loader's (elf.c). */
int elf_note_find(const void *elf, size_t len, uint32_t type, unsigned *flags);

/* The same for a note of any owner (e.g. "Solo5", HVT_NOTE_ABI1). */
int elf_note_find_owned(const void *elf, size_t len, const char *owner, uint32_t type,
                        unsigned *flags);

/* The ABI1 target of a Solo5 guest (HVT_ABI_TARGET, SPT_ABI_TARGET...), 0 without an ABI1
 * note or for a buffer that is not such an ELF. */
uint32_t elf_note_solo5_target(const void *elf, size_t len);

#endif
