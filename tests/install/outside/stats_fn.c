// SPDX-License-Identifier: Apache-2.0
/* A funk function on musl (funk-cc --linux): numbers in the body, their count, mean, standard
 * deviation, a libm call and printf's float formats in the answer; loops on FN_RECV, so it runs
 * per request and warm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <funk/fn.h>

int main(void)
{
    struct funk_fn_req req;
    unsigned long served = 0;
    int rc;
    while ((rc = funk_fn_recv(&req)) == 0) {
        double sum = 0, sq = 0;
        size_t n = 0;
        char *copy = strndup(req.body, req.body_len);
        for (char *t = strtok(copy, " \n\t,"); t; t = strtok(NULL, " \n\t,")) {
            double v = strtod(t, NULL);
            sum += v;
            sq += v * v;
            n++;
        }
        free(copy);
        double mean = n ? sum / (double)n : 0;
        double sd = n ? sqrt(sq / (double)n - mean * mean) : 0;
        char out[512];
        int len = snprintf(out, sizeof out,
                           "n=%zu mean=%.6f sd=%.6g exp1=%.12f pi=%a served=%lu\n", n, mean, sd,
                           exp(1.0), M_PI, ++served);
        printf("served request %lu\n", served); /* stdout: the function's log */
        fflush(stdout);
        if (funk_fn_send(200, "Content-Type: text/plain\n", out, (size_t)len) != 0)
            return 2;
    }
    return rc == 1 ? 0 : 1;
}
