/* SPDX-License-Identifier: Apache-2.0 */
/* stdio.h of the guest libc: the printf family; output goes to the monitor's console. */
#ifndef FUNK_GUEST_STDIO_H
#define FUNK_GUEST_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

/* No format(printf) attribute: %f/%e/%g take the IEEE-754 bits as a uint64_t here (guests have
 * no SSE to pass a double in), which the compiler's checker would reject; see FUNK_FARG(). */

int printf(const char *restrict fmt, ...);
int vprintf(const char *restrict fmt, va_list ap);
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...);
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap);
int sprintf(char *restrict buf, const char *restrict fmt, ...);
int puts(const char *s);
int putchar(int c);
/* Console output is unbuffered: each call is one PUTS hypercall, so build a line and print it
 * once rather than character by character (every guest exit costs ~60 us under emulated KVM). */

#endif
