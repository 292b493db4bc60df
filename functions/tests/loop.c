/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel: spins forever; the monitor's --timeout must end it. */
#include <funk/guest.h>

int main(void)
{
    static const char msg[] = "loop: spinning\n";
    funk_console_write(msg, sizeof msg - 1);
    for (;;)
        __asm__ __volatile__("" ::: "memory");
}
