/* SPDX-License-Identifier: Apache-2.0 */
/* A funk function: answers every request with a greeting and the request body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <funk/fn.h>

int main(void)
{
    struct funk_fn_req req;
    while (funk_fn_recv(&req) == 0) {
        static const char hello[] = "Hello from funk! You said: ";
        size_t n = sizeof hello - 1;
        char *out = malloc(n + req.body_len);
        if (!out) {
            funk_fn_send(500, "Content-Type: text/plain\n", "out of memory\n", 14);
            continue;
        }
        memcpy(out, hello, n);
        memcpy(out + n, req.body, req.body_len);
        funk_fn_send(200, "Content-Type: text/plain\n", out, n + req.body_len);
        free(out);
    }
    return 0;
}
