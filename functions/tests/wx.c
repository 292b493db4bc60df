/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: writing into the text segment must fault (W^X). */
#include <stdio.h>

int main(void)
{
    volatile unsigned char *code = (volatile unsigned char *)(void *)main;
    __asm__("" : "+r"(code));
    code[0] = 0xc3; /* ret */
    printf("wx: FAIL wrote to code\n");
    return 1;
}
