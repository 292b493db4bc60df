/* SPDX-License-Identifier: Apache-2.0 */
/* hello: the smallest funk unikernel: one console line, exit 0. */
#include <funk/guest.h>

int main(void)
{
    static const char msg[] = "Hello from a funk unikernel!\n";
    funk_console_write(msg, sizeof msg - 1);
    return 0;
}
