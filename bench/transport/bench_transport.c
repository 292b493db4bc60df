/* SPDX-License-Identifier: Apache-2.0 */
/* bench/transport sampler: prints one "SAMPLE name ns" line per measurement for run.sh, which
 * interleaves native and remote runs and prints min/median/p99 and ratios side by side. */
#include <funk/accel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int direct_noop(funk_accel_session *s)
{
    (void)s;
    return 0;
}

/* The baseline: the same call shape through a pointer the compiler cannot see through. */
static int (*volatile noop_ptr)(funk_accel_session *) = direct_noop;

static int fail(const char *what, int rc)
{
    fprintf(stderr, "funk-bench-transport: %s: %s (%d)\n", what, funk_accel_strerror(rc), rc);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: funk-bench-transport noop-local|noop|classify NAME N [IMG]\n");
        return 2;
    }
    const char *mode = argv[1], *name = argv[2];
    long n = atol(argv[3]);
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc < 0)
        return fail("session", rc);
    if (!strcmp(mode, "noop-local")) {
        /* Batches of 1000 calls: a clock read costs more than a dispatch. */
        enum { BATCH = 1000 };
        for (long b = 0; b < n; b++) {
            uint64_t t0 = now_ns();
            for (int i = 0; i < BATCH; i++)
                noop_ptr(s);
            uint64_t t1 = now_ns();
            for (int i = 0; i < BATCH; i++)
                funk_accel_noop(s);
            uint64_t t2 = now_ns();
            printf("SAMPLE direct %.1f\nSAMPLE %s %.1f\n", (double)(t1 - t0) / BATCH, name,
                   (double)(t2 - t1) / BATCH);
        }
    } else if (!strcmp(mode, "noop")) {
        for (long i = 0; i < 100 && rc >= 0; i++) /* warm-up: connect, session */
            rc = funk_accel_noop(s);
        for (long i = 0; i < n && rc >= 0; i++) {
            uint64_t t0 = now_ns();
            rc = funk_accel_noop(s);
            printf("SAMPLE %s %llu\n", name, (unsigned long long)(now_ns() - t0));
        }
        if (rc < 0)
            return fail("noop", rc);
    } else if (!strcmp(mode, "classify") && argc == 5) {
        FILE *f = fopen(argv[4], "rb");
        if (f == NULL)
            return fail(argv[4], -2);
        static unsigned char img[8 << 20];
        size_t len = fread(img, 1, sizeof(img), f);
        fclose(f);
        funk_accel_label l[5];
        rc = funk_accel_image_classify(s, NULL, img, len, l, 5); /* warm-up: model load */
        for (long i = 0; i < n && rc >= 0; i++) {
            uint64_t t0 = now_ns();
            rc = funk_accel_image_classify(s, NULL, img, len, l, 5);
            printf("SAMPLE %s %llu\n", name, (unsigned long long)(now_ns() - t0));
        }
        if (rc < 0)
            return fail("classify", rc);
    } else {
        fprintf(stderr, "funk-bench-transport: bad mode %s\n", mode);
        return 2;
    }
    funk_accel_session_delete(s);
    return 0;
}
