/* SPDX-License-Identifier: Apache-2.0 */
/* bench/monitor: the Linux personality's system-call round trip: write(1, 1 byte) N times. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        if (write(1, "x", 1) != 1)
            return 1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
    fprintf(stderr, "write-1-byte %.1f\n", ns);
    return 0;
}
