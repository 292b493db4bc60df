/* SPDX-License-Identifier: Apache-2.0 */
/* A stdio-mode function: the request body arrives on stdin, what goes to stdout is the answer. */
#include <stdio.h>

int main(void)
{
    char buf[4096];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        total += n;
    printf("Hello from a static binary! Your request had %zu bytes.\n", total);
    return 0;
}
