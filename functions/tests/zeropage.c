/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: reading (default) or writing ("write") page zero must fault. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    volatile int *null = (volatile int *)0;
    __asm__("" : "+r"(null)); /* hide the constant from the optimiser */
    if (argc > 1 && strcmp(argv[1], "write") == 0)
        *null = 1;
    else
        printf("zeropage: read %d\n", *null);
    printf("zeropage: FAIL no fault\n");
    return 1;
}
