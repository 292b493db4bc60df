/* SPDX-License-Identifier: Apache-2.0 */
/* assert.h of the guest libc: a failed assertion prints where and aborts the unikernel. */
#ifndef FUNK_GUEST_ASSERT_H
#define FUNK_GUEST_ASSERT_H

_Noreturn void __funk_assert_fail(const char *expr, const char *file, int line, const char *func);

#endif

#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : __funk_assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

#ifndef static_assert
#define static_assert _Static_assert
#endif
