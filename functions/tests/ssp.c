/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: overflowing a stack buffer trips the stack protector (abort, status 255). */
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) static void smash(const char *src, size_t n)
{
    char buf[16];
    /* volatile length: the compiler cannot prove the overflow and refuse to build it */
    volatile size_t len = n;
    memcpy(buf, src, len);
    printf("ssp: buffer starts with %c\n", buf[0]);
}

int main(void)
{
    static const char big[64] = "0123456789abcdef0123456789abcdef0123456789abcdef012345678";
    smash(big, sizeof big);
    printf("ssp: FAIL stack protector did not trip\n");
    return 1;
}
