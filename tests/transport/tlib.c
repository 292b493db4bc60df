/* SPDX-License-Identifier: Apache-2.0 */
/* A LIBRARY resource for the transport tests: shipped to the agent and called through exec. */
#include <funk/accel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

__attribute__((visibility("default"))) int add_i32(const funk_accel_arg *in, size_t n_in,
                                                   funk_accel_arg *out, size_t n_out)
{
    if (n_in != 2 || n_out != 1 || in[0].size != 4 || in[1].size != 4 || out[0].size < 4)
        return -EINVAL;
    int32_t a, b, r;
    memcpy(&a, in[0].data, 4);
    memcpy(&b, in[1].data, 4);
    r = a + b;
    memcpy(out[0].data, &r, 4);
    out[0].used = 4;
    return 0;
}

/* A call that takes long enough for a test to kill its client while it runs. A call of 100 ms or
 * more first creates the file FUNK_TLIB_SLEEPING names, so the test waits on that event (the
 * call is running) rather than on a guess of time. */
__attribute__((visibility("default"))) int sleep_ms(const funk_accel_arg *in, size_t n_in,
                                                    funk_accel_arg *out, size_t n_out)
{
    (void)out;
    (void)n_out;
    if (n_in != 1 || in[0].size != 4)
        return -EINVAL;
    int32_t ms;
    memcpy(&ms, in[0].data, 4);
    const char *mark = getenv("FUNK_TLIB_SLEEPING");
    if (ms >= 100 && mark != NULL) {
        int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return 0;
}
