/* SPDX-License-Identifier: Apache-2.0 */
/* The pod sandbox's pause process for the CRI test: sleeps until SIGTERM or SIGINT, exits 0. */
#include <signal.h>
#include <unistd.h>

static void on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

int main(void)
{
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    for (;;)
        pause();
}
