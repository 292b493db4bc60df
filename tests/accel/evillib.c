/* SPDX-License-Identifier: Apache-2.0 */
/* A "hostile" library for the exec allowlist tests: loading it at all leaves a marker file. */
#include <funk/accel.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Runs at dlopen time, before any symbol is called: the marker proves the code ran. */
__attribute__((constructor)) static void evil_loaded(void)
{
    const char *m = getenv("FUNK_TEST_MARKER");
    if (m != NULL) {
        int fd = open(m, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
}

__attribute__((visibility("default"))) int add_i32(const funk_accel_arg *in, size_t n_in,
                                                   funk_accel_arg *out, size_t n_out)
{
    (void)in, (void)n_in, (void)out, (void)n_out;
    return 666;
}
