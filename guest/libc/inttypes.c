/* SPDX-License-Identifier: Apache-2.0 */
/* inttypes.h of the guest libc: intmax_t is long (LP64), so the stdlib conversions serve. */
#include <inttypes.h>
#include <stdlib.h>

intmax_t strtoimax(const char *restrict s, char **restrict end, int base)
{
    return strtoll(s, end, base);
}

uintmax_t strtoumax(const char *restrict s, char **restrict end, int base)
{
    return strtoull(s, end, base);
}

intmax_t imaxabs(intmax_t v)
{
    return v < 0 ? -v : v;
}
