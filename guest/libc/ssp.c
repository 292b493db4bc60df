/* SPDX-License-Identifier: Apache-2.0 */
/* Guest stack protector: the global canary (-mstack-protector-guard=global) and its handler. */
#include <stdint.h>

#include "libc_internal.h"

/* -mstack-protector-guard=global: the canary lives here, set by the start code before main. */
uintptr_t __stack_chk_guard = 0x595e9fbd94fda766ull;

_Noreturn void __stack_chk_fail(void)
{
    libc_abort("stack smashing detected (stack protector)");
}
