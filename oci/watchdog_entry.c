/* SPDX-License-Identifier: Apache-2.0 */
/* funk-watchdog's entry point: the watchdog loop with each request's command run as a process. */
#include "watchdog.h"

int main(int argc, char **argv)
{
    static const struct wd_host host = {
        .name = "funk-watchdog", .run = wd_run_process, .lockfile = 1};
    return wd_main(argc, argv, &host);
}
