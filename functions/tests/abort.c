/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: abort() reports and ends with status 255. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    printf("abort: calling abort()\n");
    abort();
}
