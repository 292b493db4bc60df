/* SPDX-License-Identifier: Apache-2.0 */
/* A static musl program run both natively and as a funk Linux guest (tests/monitor/linux.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static _Thread_local int tls_counter = 41;

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    /* floating point through printf and strtod */
    double v = strtod("3.14159265358979", NULL);
    printf("%f %g %e %.10f\n", v, v * 1e10, v / 1e7, 2.0 / 3.0);
    /* qsort of doubles parsed from stdin */
    double xs[256];
    size_t n = 0;
    char line[128];
    while (n < 256 && fgets(line, sizeof line, stdin))
        xs[n++] = strtod(line, NULL);
    qsort(xs, n, sizeof xs[0], cmp);
    for (size_t i = 0; i < n; i++)
        printf("%.3f%c", xs[i], i + 1 == n ? '\n' : ' ');
    /* malloc stress: many sizes, realloc, free, content checked */
    unsigned long sum = 0;
    char *blocks[500] = {0};
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < 500; i++) {
            size_t sz = (size_t)((i * 7919 + round * 104729) % 70000) + 1;
            char *p = realloc(blocks[i], sz);
            if (!p)
                return 10;
            memset(p, (i + round) & 0xff, sz);
            sum += (unsigned char)p[sz - 1];
            blocks[i] = p;
        }
    for (int i = 0; i < 500; i++)
        free(blocks[i]);
    char *big = malloc(8 << 20);
    if (!big)
        return 11;
    memset(big, 1, 8 << 20);
    free(big);
    printf("malloc %lu\n", sum);
    /* clock_gettime moves forward; getrandom fills; TLS */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_MONOTONIC, &b);
    unsigned char r[64] = {0};
    int nonzero = 0;
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return 12;
    for (size_t i = 0; i < sizeof r; i++)
        nonzero += r[i] != 0;
    tls_counter++;
    printf("clock %s random %s tls %d argc %d argv1 %s env %s\n",
           (b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec)) ? "ok" : "BAD",
           nonzero > 32 ? "ok" : "BAD", tls_counter, argc, argc > 1 ? argv[1] : "-",
           getenv("FUNK_TEST") ? getenv("FUNK_TEST") : "-");
    fprintf(stderr, "prog: done\n");
    return 3;
}
