/* SPDX-License-Identifier: Apache-2.0 */
/* bench/monitor: the Linux personality's system-call round trip: write(1, 1 byte) N times. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/*
 * Usage: linux_write [N [BATCH]]. Prints the mean ns per call over all N ("write-1-byte MEAN"),
 * then the distribution over N / BATCH samples, each the mean of BATCH back-to-back calls timed
 * with two clock_gettime calls ("write-1-byte-dist SAMPLES BATCH MIN P50 P99", ns per call):
 * under the personality clock_gettime is itself a served call, so BATCH keeps its share small.
 */

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double ns_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    long batch = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    if (n < 1 || batch < 1 || batch > n)
        return 2;
    long samples = n / batch;
    double *s = malloc((size_t)samples * sizeof *s);
    if (!s)
        return 1;
    struct timespec a, b, c, d;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long k = 0; k < samples; k++) {
        clock_gettime(CLOCK_MONOTONIC, &c);
        for (long i = 0; i < batch; i++)
            if (write(1, "x", 1) != 1)
                return 1;
        clock_gettime(CLOCK_MONOTONIC, &d);
        s[k] = ns_between(&c, &d) / (double)batch;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    qsort(s, (size_t)samples, sizeof *s, cmp);
    fprintf(stderr, "write-1-byte %.1f\n", ns_between(&a, &b) / (double)(samples * batch));
    fprintf(stderr, "write-1-byte-dist %ld %ld %.1f %.1f %.1f\n", samples, batch, s[0],
            s[samples / 2], s[(samples * 99) / 100 < samples ? (samples * 99) / 100 : samples - 1]);
    free(s);
    return 0;
}
