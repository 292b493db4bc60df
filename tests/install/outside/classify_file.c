// SPDX-License-Identifier: Apache-2.0
/* A funk-cc --linux --accel function: the request body is a JPEG, or names an image file of its
 * bundle, which it reads with stdio (musl); it classifies it through <funk/accel.h> (ACCEL
 * hypercalls to the host's funk-accel-agent) and answers "LABEL SCORE" per line, best first, as
 * `funk-accel classify` prints them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <funk/accel.h>
#include <funk/fn.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *b = malloc(cap);
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

int main(void)
{
    struct funk_fn_req req;
    if (funk_fn_recv(&req) != 0)
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int)req.body_len, (const char *)req.body);
    path[strcspn(path, "\r\n")] = '\0';
    size_t len = 0;
    const unsigned char *b = req.body;
    char *img = req.body_len > 2 && b[0] == 0xff && b[1] == 0xd8 ? malloc(req.body_len) : NULL;
    if (img) {
        memcpy(img, req.body, req.body_len);
        len = req.body_len;
    } else {
        img = slurp(path, &len);
    }
    char out[1024];
    int n = 0;
    unsigned status = 200;
    funk_accel_session *s = NULL;
    funk_accel_label lab[3];
    int got = -1;
    if (!img) {
        n = snprintf(out, sizeof out, "cannot read %s\n", path);
        status = 404;
    } else if (funk_accel_session_new(&s) != 0 ||
               (got = funk_accel_image_classify(s, NULL, img, len, lab, 3)) < 0) {
        n = snprintf(out, sizeof out, "classify: %s\n", funk_accel_strerror(got));
        status = 500;
    } else {
        for (int i = 0; i < got && n < (int)sizeof out - 100; i++)
            n += snprintf(out + n, sizeof out - (size_t)n, "%s %.3f\n", lab[i].label,
                          (double)lab[i].score);
    }
    if (s)
        funk_accel_session_delete(s);
    free(img);
    return funk_fn_send(status, NULL, out, (size_t)n) == 0 ? 0 : 1;
}
