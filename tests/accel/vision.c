/* SPDX-License-Identifier: Apache-2.0 */
/* Pose and segmentation on a real photo through whichever plugins FUNK_ACCEL_PLUGINS names:
 * the keypoints and the mask must agree with the person box that detect finds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <funk/accel.h>

static int fails;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("ok   - ");                                                                     \
        } else {                                                                                   \
            printf("FAIL - ");                                                                     \
            fails++;                                                                               \
        }                                                                                          \
        printf(__VA_ARGS__);                                                                       \
        putchar('\n');                                                                             \
    } while (0)

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* Reads width and height from a JPEG's SOF marker (the test photo is a baseline JPEG). */
static int jpeg_size(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
    for (size_t i = 2; i + 9 < n;) {
        if (p[i] != 0xFF)
            return -1;
        uint8_t m = p[i + 1];
        size_t seg = (size_t)p[i + 2] << 8 | p[i + 3];
        if (m >= 0xC0 && m <= 0xC3) {
            *h = (uint32_t)p[i + 5] << 8 | p[i + 6];
            *w = (uint32_t)p[i + 7] << 8 | p[i + 8];
            return 0;
        }
        i += 2 + seg;
    }
    return -1;
}

static const funk_accel_keypoint *kp(const funk_accel_keypoint *k, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(k[i].name, name) == 0)
            return &k[i];
    return NULL;
}

static int inside(const funk_accel_detection *b, float x, float y, float margin)
{
    return x >= b->x - margin && x <= b->x + b->w + margin && y >= b->y - margin &&
           y <= b->y + b->h + margin;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PHOTO.jpg (a photo with one prominent person)\n", argv[0]);
        return 2;
    }
    size_t len;
    uint8_t *img = slurp(argv[1], &len);
    uint32_t iw = 0, ih = 0;
    if (!img || jpeg_size(img, len, &iw, &ih) < 0) {
        fprintf(stderr, "cannot read %s as a JPEG\n", argv[1]);
        return 2;
    }
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc < 0) {
        fprintf(stderr, "session: %s\n", funk_accel_strerror(rc));
        return 1;
    }

    /* the person's box, from the detector */
    funk_accel_detection d[32];
    int nd = funk_accel_image_detect(s, NULL, img, len, 30, d, 32);
    const funk_accel_detection *box = NULL;
    for (int i = 0; i < nd && !box; i++)
        if (strcmp(d[i].label.label, "person") == 0)
            box = &d[i];
    CHECK(box != NULL, "detect: a person (%d detections)", nd);
    if (!box)
        return 1;
    printf("     person box x=%.3f y=%.3f w=%.3f h=%.3f score=%.3f\n", box->x, box->y, box->w,
           box->h, box->label.score);

    /* pose */
    funk_accel_keypoint k[FUNK_ACCEL_POSE_KEYPOINTS];
    int nk = funk_accel_image_pose(s, img, len, k, FUNK_ACCEL_POSE_KEYPOINTS);
    CHECK(nk == FUNK_ACCEL_POSE_KEYPOINTS, "pose: %d keypoints", nk);
    if (nk == FUNK_ACCEL_POSE_KEYPOINTS) {
        int confident = 0, in_box = 0;
        for (int i = 0; i < nk; i++) {
            printf("     %-15s x=%.3f y=%.3f score=%.3f\n", k[i].name, k[i].x, k[i].y, k[i].score);
            if (k[i].score >= 0.3f) {
                confident++;
                in_box += inside(box, k[i].x, k[i].y, 0.05f);
            }
        }
        CHECK(confident >= 8 && in_box == confident,
              "pose: %d keypoints scored >= 0.3, %d of them inside the person box", confident,
              in_box);
        const funk_accel_keypoint *nose = kp(k, nk, "nose"), *lh = kp(k, nk, "left_hip"),
                                  *rh = kp(k, nk, "right_hip"), *ls = kp(k, nk, "left_shoulder"),
                                  *ra = kp(k, nk, "right_ankle");
        CHECK(nose && lh && rh && ls && ra, "pose: COCO keypoint names");
        if (nose && lh && rh && ls) {
            float hips = (lh->y + rh->y) / 2;
            CHECK(nose->y < ls->y && ls->y < hips,
                  "pose: nose (%.3f) above shoulder (%.3f) above hips (%.3f)", nose->y, ls->y,
                  hips);
        }
        funk_accel_keypoint one[2];
        CHECK(funk_accel_image_pose(s, img, len, one, 2) == 2 && !strcmp(one[0].name, "nose"),
              "pose: max=2 returns the first two");
    }

    /* segmentation at the image's size */
    uint8_t *mask = malloc((size_t)iw * ih);
    uint32_t mw = 0, mh = 0;
    rc = funk_accel_image_segment(s, img, len, mask, (size_t)iw * ih, &mw, &mh);
    CHECK(rc == 0 && mw == iw && mh == ih, "segment: rc=%d, mask %ux%u for a %ux%u image", rc, mw,
          mh, iw, ih);
    if (rc == 0) {
        uint64_t in_n = 0, in_on = 0, out_n = 0, out_on = 0;
        for (uint32_t y = 0; y < mh; y++)
            for (uint32_t x = 0; x < mw; x++) {
                int on = mask[(size_t)y * mw + x] >= 128;
                if (inside(box, (x + 0.5f) / mw, (y + 0.5f) / mh, 0)) {
                    in_n++;
                    in_on += on;
                } else {
                    out_n++;
                    out_on += on;
                }
            }
        double fin = in_n ? (double)in_on / in_n : 0, fout = out_n ? (double)out_on / out_n : 1;
        CHECK(fin >= 0.45 && fout <= 0.10,
              "segment: %.0f%% of the person box is person, %.0f%% of the rest", 100 * fin,
              100 * fout);
    }
    /* a requested size, and a buffer too small for it */
    mw = 64;
    mh = 48;
    rc = funk_accel_image_segment(s, img, len, mask, 64 * 48, &mw, &mh);
    CHECK(rc == 0 && mw == 64 && mh == 48, "segment: 64x48 on request (rc=%d, %ux%u)", rc, mw, mh);
    mw = 64;
    mh = 48;
    rc = funk_accel_image_segment(s, img, len, mask, 64 * 48 - 1, &mw, &mh);
    CHECK(rc == -ENOSPC, "segment: a mask buffer one byte short is ENOSPC (rc=%d)", rc);
    mw = 64;
    mh = 0;
    rc = funk_accel_image_segment(s, img, len, mask, 64 * 48, &mw, &mh);
    CHECK(rc == -EINVAL, "segment: 64x0 is EINVAL (rc=%d)", rc);
    free(mask);

    /* bytes that are no image */
    static const char junk[] = "definitely not a JPEG or a PNG";
    rc = funk_accel_image_pose(s, junk, sizeof(junk), k, FUNK_ACCEL_POSE_KEYPOINTS);
    CHECK(rc == -EBADMSG, "pose: junk bytes are EBADMSG (rc=%d)", rc);
    uint8_t small[16];
    mw = 4;
    mh = 4;
    rc = funk_accel_image_segment(s, junk, sizeof(junk), small, sizeof(small), &mw, &mh);
    CHECK(rc == -EBADMSG, "segment: junk bytes are EBADMSG (rc=%d)", rc);

    /* raw generic ops as a hostile client could send them (no wrapper to pack them right) */
    {
        uint8_t tiny[8], m[64];
        uint32_t bad_dims[2] = {100000, 100000}, dims[2] = {8, 8}, got[2];
        funk_accel_arg a_img = FUNK_ACCEL_ARG_BYTES_OF(img, len);
        funk_accel_arg o_tiny = FUNK_ACCEL_ARG_BYTES_OF(tiny, sizeof(tiny));
        rc = funk_accel_op(s, "image_pose", &a_img, 1, &o_tiny, 1);
        CHECK(rc == -EINVAL, "raw image_pose: output smaller than one keypoint is EINVAL (%d)", rc);
        funk_accel_arg two[2] = {a_img, a_img};
        funk_accel_arg o_kp = FUNK_ACCEL_ARG_BYTES_OF(k, sizeof(k));
        rc = funk_accel_op(s, "image_pose", two, 2, &o_kp, 1);
        CHECK(rc == -EINVAL, "raw image_pose: two inputs is EINVAL (%d)", rc);
        funk_accel_arg in_short[2] = {a_img, FUNK_ACCEL_ARG_BYTES_OF(dims, 4)};
        funk_accel_arg o_seg[2] = {FUNK_ACCEL_ARG_BYTES_OF(m, sizeof(m)),
                                   FUNK_ACCEL_ARG_BYTES_OF(got, sizeof(got))};
        rc = funk_accel_op(s, "image_segment", in_short, 2, o_seg, 2);
        CHECK(rc == -EINVAL, "raw image_segment: a 4-byte size argument is EINVAL (%d)", rc);
        funk_accel_arg in_huge[2] = {a_img, FUNK_ACCEL_ARG_BYTES_OF(bad_dims, sizeof(bad_dims))};
        rc = funk_accel_op(s, "image_segment", in_huge, 2, o_seg, 2);
        CHECK(rc == -EINVAL, "raw image_segment: 100000x100000 is EINVAL (%d)", rc);
        funk_accel_arg in_ok[2] = {a_img, FUNK_ACCEL_ARG_BYTES_OF(dims, sizeof(dims))};
        funk_accel_arg o_short[2] = {FUNK_ACCEL_ARG_BYTES_OF(m, sizeof(m)),
                                     FUNK_ACCEL_ARG_BYTES_OF(got, 4)};
        rc = funk_accel_op(s, "image_segment", in_ok, 2, o_short, 2);
        CHECK(rc == -EINVAL, "raw image_segment: a 4-byte size output is EINVAL (%d)", rc);
        rc = funk_accel_op(s, "image_segment", in_ok, 2, o_seg, 2);
        CHECK(rc == 0 && o_seg[0].used == 64 && o_seg[1].used == 8 && got[0] == 8 && got[1] == 8,
              "raw image_segment: 8x8 into 64 bytes (rc=%d, used %zu/%zu)", rc, o_seg[0].used,
              o_seg[1].used);
    }

    funk_accel_session_delete(s);
    free(img);
    printf(fails ? "%d vision check(s) failed\n" : "all vision checks passed\n", fails);
    return fails ? 1 : 0;
}
