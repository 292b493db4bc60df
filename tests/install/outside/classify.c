/* SPDX-License-Identifier: Apache-2.0 */
/* A user's program built outside the funk tree with `pkg-config --cflags --libs funk-accel`:
 * runs a noop and classifies an image through the installed plugins, prints the labels, then
 * the libfunk files mapped into it (so the test can tell where they were loaded from). */
#include <funk/accel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int slurp(const char *path, void **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    *data = buf;
    *len = n;
    return buf ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
        return 64;
    }
    int rc = funk_accel_init("noop:cpu");
    if (rc < 0) {
        fprintf(stderr, "funk_accel_init: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    funk_accel_session *s = NULL;
    if ((rc = funk_accel_session_new(&s)) < 0 || (rc = funk_accel_noop(s)) < 0) {
        fprintf(stderr, "session/noop: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    printf("noop: ok\n");
    void *img = NULL;
    size_t len = 0;
    if (slurp(argv[1], &img, &len) < 0) {
        perror(argv[1]);
        return 1;
    }
    funk_accel_label out[5];
    int n = funk_accel_image_classify(s, NULL, img, len, out, 5);
    if (n < 0) {
        fprintf(stderr, "classify: %s\n", funk_accel_strerror(n));
        return 1;
    }
    for (int i = 0; i < n; i++)
        printf("label: %s %.2f\n", out[i].label, out[i].score);
    free(img);
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    while (maps && fgets(line, sizeof line, maps)) {
        char *path = strchr(line, '/');
        if (path && strstr(path, "libfunk"))
            printf("mapped: %s", path);
    }
    if (maps)
        fclose(maps);
    funk_accel_session_delete(s);
    funk_accel_fini();
    return 0;
}
