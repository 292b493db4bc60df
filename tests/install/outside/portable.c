/* SPDX-License-Identifier: Apache-2.0 */
/* Portable C a function author brings along, built with funk-cc: <inttypes.h> formats,
 * <sys/types.h>, <time.h> (time, clock_gettime), strtok_r, strerror of a POSIX code. Prints
 * one line per check; the test compares them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

int main(void)
{
    char line[] = "GET  /a/b?x=1";
    char *save = NULL;
    int n = 0;
    for (char *t = strtok_r(line, " ?", &save); t; t = strtok_r(NULL, " ?", &save))
        n++;
    printf("tokens=%d\n", n);
    uint64_t big = UINT64_C(18446744073709551615);
    ssize_t neg = -5;
    printf("u64=%" PRIu64 " x64=%" PRIx64 " ssize=%ld imax=%" PRIdMAX "\n", big, big, (long)neg,
           imaxabs(strtoimax("-42", NULL, 10)));
    struct timespec a, b;
    time_t now = time(NULL);
    int ok = clock_gettime(CLOCK_MONOTONIC, &a) == 0 && clock_gettime(CLOCK_MONOTONIC, &b) == 0 &&
             (b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec)) &&
             a.tv_nsec >= 0 && a.tv_nsec < 1000000000L;
    struct timespec w;
    ok = ok && clock_gettime(CLOCK_REALTIME, &w) == 0 && w.tv_sec >= now && w.tv_sec - now < 5;
    errno = 0;
    ok = ok && clock_gettime(99, &w) == -1 && errno == EINVAL;
    printf("clocks=%s after2020=%s\n", ok ? "ok" : "BAD", now > 1577836800 ? "yes" : "no");
    printf("EBADMSG=%d %s\n", EBADMSG, strerror(EBADMSG));
    return 0;
}
