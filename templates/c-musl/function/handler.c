/* SPDX-License-Identifier: Apache-2.0 */
/* A funk function on musl: answers every request with a greeting, the body's length and its
 * square root (libm, floating point), and the body. */
#define _GNU_SOURCE /* asprintf */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <funk/fn.h>

int main(void)
{
    struct funk_fn_req req;
    while (funk_fn_recv(&req) == 0) {
        char *out = NULL;
        int n = asprintf(&out, "Hello from funk on musl! %zu bytes, sqrt %.3f. You said: %.*s",
                         req.body_len, sqrt((double)req.body_len), (int)req.body_len,
                         (const char *)req.body);
        if (n < 0) {
            funk_fn_send(500, "Content-Type: text/plain\n", "out of memory\n", 14);
            continue;
        }
        funk_fn_send(200, "Content-Type: text/plain\n", out, (size_t)n);
        free(out);
    }
    return 0;
}
