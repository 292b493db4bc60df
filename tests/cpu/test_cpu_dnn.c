/* SPDX-License-Identifier: Apache-2.0 */
/* cpu plugin classify/detect through the public API: real photos, real models, bad input. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>
#include <funk/accel.h>

#include "slurp.h"
#include "textimg.h"

#define DARKNET "/usr/share/darknet/data/"

static char model_dir[4096];

static void model_path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", model_dir, name);
}

typedef struct fixture {
    funk_accel_session *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f || funk_accel_session_new(&f->s) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    funk_accel_session_delete(f->s);
    free(f);
    return 0;
}

static const funk_accel_label *find_label(const funk_accel_label *l, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(l[i].label, name) == 0)
            return &l[i];
    return NULL;
}

static const funk_accel_detection *find_det(const funk_accel_detection *d, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(d[i].label.label, name) == 0)
            return &d[i];
    return NULL;
}

static void check_sorted(const funk_accel_label *l, int n)
{
    for (int i = 0; i < n; i++) {
        assert_true(l[i].score >= 0.0f && l[i].score <= 1.0f);
        if (i)
            assert_true(l[i - 1].score >= l[i].score);
    }
}

static void test_classify_dog(void **state)
{
    fixture *f = *state;
    size_t len;
    void *img = slurp(DARKNET "dog.jpg", &len);
    assert_non_null(img);
    funk_accel_label out[5];
    int n = funk_accel_image_classify(f->s, NULL, img, len, out, 5);
    assert_int_equal(n, 5);
    check_sorted(out, n);
    const char *want[] = {"dog", "bicycle", "car"};
    for (int i = 0; i < 3; i++) {
        const funk_accel_label *l = find_label(out, n, want[i]);
        assert_non_null(l);
        print_message("dog.jpg: %s %.3f (class %d)\n", l->label, l->score, l->class_id);
        assert_true(l->score > 0.25f && l->score < 0.95f);
    }
    assert_int_equal(find_label(out, n, "dog")->class_id, 16); /* COCO order, 0-based */
    /* max smaller than the result count: only that many written */
    n = funk_accel_image_classify(f->s, NULL, img, len, out, 1);
    assert_int_equal(n, 1);
    free(img);
}

static void test_classify_horses(void **state)
{
    fixture *f = *state;
    size_t len;
    void *img = slurp(DARKNET "horses.jpg", &len);
    assert_non_null(img);
    funk_accel_label out[3];
    int n = funk_accel_image_classify(f->s, NULL, img, len, out, 3);
    assert_int_equal(n, 3);
    print_message("horses.jpg: %s %.3f, %s %.3f\n", out[0].label, out[0].score, out[1].label,
                  out[1].score);
    assert_string_equal(out[0].label, "horse");
    assert_true(out[0].score > 0.3f);
    free(img);
}

static void test_detect_dog(void **state)
{
    fixture *f = *state;
    size_t len;
    void *img = slurp(DARKNET "dog.jpg", &len);
    assert_non_null(img);
    funk_accel_detection d[16];
    int n = funk_accel_image_detect(f->s, NULL, img, len, 30, d, 16);
    assert_true(n >= 3);
    for (int i = 0; i < n; i++) {
        assert_true(d[i].label.score >= 0.30f);
        assert_true(d[i].x >= 0 && d[i].y >= 0 && d[i].w > 0 && d[i].h > 0);
        assert_true(d[i].x + d[i].w <= 1.0001f && d[i].y + d[i].h <= 1.0001f);
        if (i)
            assert_true(d[i - 1].label.score >= d[i].label.score);
        print_message("detect: %-10s %.3f box %.2f,%.2f %.2fx%.2f\n", d[i].label.label,
                      d[i].label.score, d[i].x, d[i].y, d[i].w, d[i].h);
    }
    const funk_accel_detection *dog = find_det(d, n, "dog");
    const funk_accel_detection *bike = find_det(d, n, "bicycle");
    const funk_accel_detection *car = find_det(d, n, "car");
    assert_non_null(dog);
    assert_non_null(bike);
    assert_non_null(car);
    /* dog: lower-left quarter of the photo; car: upper right; bicycle: large, central */
    assert_true(dog->x + dog->w / 2 < 0.5f && dog->y + dog->h / 2 > 0.5f);
    assert_true(car->x + car->w / 2 > 0.6f && car->y + car->h / 2 < 0.4f);
    assert_true(bike->w > 0.4f && bike->h > 0.4f);
    /* a higher threshold gives a subset */
    funk_accel_detection d2[16];
    int n2 = funk_accel_image_detect(f->s, NULL, img, len, 50, d2, 16);
    assert_true(n2 >= 1 && n2 < n);
    assert_true(d2[0].label.score >= 0.5f);
    free(img);
}

static void test_not_an_image(void **state)
{
    fixture *f = *state;
    static const char text[] = "this is certainly not a JPEG or PNG image";
    funk_accel_label out[3];
    funk_accel_detection d[3];
    assert_int_equal(funk_accel_image_classify(f->s, NULL, text, sizeof(text), out, 3), -EBADMSG);
    assert_int_equal(funk_accel_image_detect(f->s, NULL, text, sizeof(text), 0, d, 3), -EBADMSG);
    /* a PNG signature followed by garbage */
    unsigned char png[64] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memset(png + 8, 0x5a, sizeof(png) - 8);
    assert_int_equal(funk_accel_image_classify(f->s, NULL, png, sizeof(png), out, 3), -EBADMSG);
    /* a JPEG start-of-image marker and nothing usable after it */
    static const unsigned char jpg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0};
    assert_int_equal(funk_accel_image_classify(f->s, NULL, jpg, sizeof(jpg), out, 3), -EBADMSG);
    /* a real PNG wider than the decoder's limit (16384 pixels) */
    unsigned char *wide;
    size_t wlen;
    assert_int_equal(textimg_encode("", 20000, 1, 0, ".png", 1, &wide, &wlen), 0);
    assert_int_equal(funk_accel_image_classify(f->s, NULL, wide, wlen, out, 3), -EBADMSG);
    free(wide);
}

static funk_accel_resource *model_res(const void *data, size_t len, const char *kv[][2])
{
    funk_accel_resource *r = NULL;
    assert_int_equal(funk_accel_resource_new_buffer(&r, FUNK_ACCEL_RES_MODEL, data, len), 0);
    for (int i = 0; kv && kv[i][0]; i++)
        assert_int_equal(funk_accel_resource_set_attr(r, kv[i][0], kv[i][1]), 0);
    return r;
}

static void test_corrupt_model(void **state)
{
    fixture *f = *state;
    char path[4200];
    model_path(path, sizeof(path), "centernet.onnx");
    size_t mlen, ilen;
    void *model = slurp(path, &mlen);
    void *img = slurp(DARKNET "dog.jpg", &ilen);
    assert_non_null(model);
    assert_non_null(img);
    funk_accel_label out[3];

    /* an ONNX file cut short: corrupt */
    const char *kv[][2] = {{"kind", "centernet"}, {NULL, NULL}};
    funk_accel_resource *r = model_res(model, mlen / 3, kv);
    assert_int_equal(funk_accel_session_register(f->s, r), 0);
    assert_int_equal(funk_accel_image_classify(f->s, r, img, ilen, out, 3), -EBADMSG);
    assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);

    /* bytes of another format (a TF.js JSON): declined by cpu -> nobody supports it */
    static const char json[] = "{\"format\": \"graph-model\", \"modelTopology\": {}}";
    r = model_res(json, sizeof(json), NULL);
    assert_int_equal(funk_accel_session_register(f->s, r), 0);
    assert_int_equal(funk_accel_image_classify(f->s, r, img, ilen, out, 3), -ENOTSUP);
    assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);

    /* an explicit unknown format */
    const char *fmt[][2] = {{"format", "tflite"}, {NULL, NULL}};
    r = model_res(model, mlen, fmt);
    assert_int_equal(funk_accel_session_register(f->s, r), 0);
    assert_int_equal(funk_accel_image_classify(f->s, r, img, ilen, out, 3), -ENOTSUP);
    assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);
    free(model);
    free(img);
}

/* Descriptors of this process that are the runtime's memfd copies of buffer resources. */
static int resource_memfds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[300], target[256];
        snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
        ssize_t l = readlink(p, target, sizeof(target) - 1);
        if (l <= 0)
            continue;
        target[l] = '\0';
        n += strstr(target, "memfd:funk-accel-resource") != NULL;
    }
    closedir(d);
    return n;
}

static void test_centernet_resource(void **state)
{
    fixture *f = *state;
    char path[4200];
    model_path(path, sizeof(path), "centernet.onnx");
    funk_accel_resource *r = NULL;
    /* no kind attribute: recognised by its keypoints/wh outputs; labels from coco80.txt */
    assert_int_equal(funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_MODEL, path), 0);
    assert_int_equal(funk_accel_session_register(f->s, r), 0);
    size_t ilen;
    void *img = slurp(DARKNET "dog.jpg", &ilen);
    funk_accel_label a[3], b[3];
    for (int round = 0; round < 2; round++) { /* second round uses the cached net */
        assert_int_equal(funk_accel_image_classify(f->s, r, img, ilen, a, 3), 3);
        assert_int_equal(funk_accel_image_classify(f->s, NULL, img, ilen, b, 3), 3);
        for (int i = 0; i < 3; i++) {
            assert_string_equal(a[i].label, b[i].label);
            assert_float_equal(a[i].score, b[i].score, 1e-5);
        }
    }
    assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);

    /* The same bytes as a buffer: the same answer, and no memfd copy of the model made. */
    size_t mlen;
    void *model = slurp(path, &mlen);
    assert_non_null(model);
    r = model_res(model, mlen, NULL);
    assert_int_equal(funk_accel_session_register(f->s, r), 0);
    assert_int_equal(funk_accel_image_classify(f->s, r, img, ilen, a, 3), 3);
    assert_string_equal(a[0].label, b[0].label);
    assert_int_equal(resource_memfds(), 0);
    assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);
    free(model);
    free(img);
}

static funk_accel_resource *textdir_model_with(fixture *f, const char *input, const char *key,
                                               const char *value);

static funk_accel_resource *textdir_model(fixture *f, const char *input)
{
    return textdir_model_with(f, input, NULL, NULL);
}

/* The text-direction classifier; key=value (if given) is set last, overriding the defaults. */
static funk_accel_resource *textdir_model_with(fixture *f, const char *input, const char *key,
                                               const char *value)
{
    char path[4200];
    model_path(path, sizeof(path), "textdir.onnx");
    funk_accel_resource *r = NULL;
    assert_int_equal(funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_MODEL, path), 0);
    /* PaddleOCR: (pixel / 255 - 0.5) / 0.5 = pixel / 127.5 - 1, BGR */
    assert_int_equal(funk_accel_resource_set_attr(r, "kind", "classifier"), 0);
    if (input)
        assert_int_equal(funk_accel_resource_set_attr(r, "input", input), 0);
    assert_int_equal(funk_accel_resource_set_attr(r, "scale", "0.00784313725"), 0);
    assert_int_equal(funk_accel_resource_set_attr(r, "mean", "1,1,1"), 0);
    assert_int_equal(funk_accel_resource_set_attr(r, "channels", "bgr"), 0);
    assert_int_equal(funk_accel_resource_set_attr(r, "labels", "0\n180\n"), 0);
    if (key)
        assert_int_equal(funk_accel_resource_set_attr(r, key, value), 0);
    assert_int_equal(funk_accel_session_register(f->s, r), 0);
    return r;
}

static void classify_text(fixture *f, funk_accel_resource *r, int rot, funk_accel_label *out)
{
    unsigned char *png;
    size_t len;
    assert_int_equal(textimg_png("Hello funk 2026", 320, 48, rot, &png, &len), 0);
    assert_int_equal(funk_accel_image_classify(f->s, r, png, len, out, 2), 2);
    free(png);
}

static void test_classifier_options(void **state)
{
    fixture *f = *state;
    funk_accel_label out[2];
    /* per-channel scale (a different pre-processing path), same answers */
    funk_accel_resource *r =
        textdir_model_with(f, "192x48", "scale", "0.0078431,0.0078432,0.0078433");
    for (int rot = 0; rot < 2; rot++) {
        classify_text(f, r, rot, out);
        assert_string_equal(out[0].label, rot ? "180" : "0");
    }
    assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);

    /* softmax=yes on outputs that already are probabilities (~1, ~0): softmax(1, 0) */
    r = textdir_model_with(f, "192x48", "softmax", "yes");
    classify_text(f, r, 0, out);
    print_message("softmax=yes: %s %.4f, %s %.4f\n", out[0].label, out[0].score, out[1].label,
                  out[1].score);
    assert_string_equal(out[0].label, "0");
    assert_float_equal(out[0].score, 0.7311, 0.01);
    assert_float_equal(out[0].score + out[1].score, 1.0, 1e-4);
    assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);

    /* no labels attribute: classes by number */
    r = textdir_model_with(f, "192x48", "labels", "");
    classify_text(f, r, 1, out);
    assert_string_equal(out[0].label, "class 1");
    assert_int_equal(out[0].class_id, 1);
    assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);
}

static void test_text_direction(void **state)
{
    fixture *f = *state;
    funk_accel_resource *r = textdir_model(f, "192x48");
    const char *lines[] = {"Hello funk 2026", "serverless text"};
    for (int t = 0; t < 2; t++) {
        for (int rot = 0; rot < 2; rot++) {
            unsigned char *png;
            size_t len;
            assert_int_equal(textimg_png(lines[t], 320, 48, rot, &png, &len), 0);
            funk_accel_label out[2];
            assert_int_equal(funk_accel_image_classify(f->s, r, png, len, out, 2), 2);
            print_message("'%s' rotated %d: %s %.3f\n", lines[t], rot * 180, out[0].label,
                          out[0].score);
            assert_string_equal(out[0].label, rot ? "180" : "0");
            assert_true(out[0].score > 0.8f);
            assert_float_equal(out[0].score + out[1].score, 1.0, 1e-3);
            free(png);
        }
    }
    /* the same through other encodings: grayscale JPEG, grayscale PNG */
    const char *exts[] = {".jpg", ".png"};
    for (int e = 0; e < 2; e++) {
        for (int rot = 0; rot < 2; rot++) {
            unsigned char *buf;
            size_t blen;
            assert_int_equal(textimg_encode(lines[0], 320, 48, rot, exts[e], 1, &buf, &blen), 0);
            funk_accel_label out[1];
            assert_int_equal(funk_accel_image_classify(f->s, r, buf, blen, out, 1), 1);
            assert_string_equal(out[0].label, rot ? "180" : "0");
            free(buf);
        }
    }
    /* a classifier cannot detect: declined */
    unsigned char *png;
    size_t len;
    assert_int_equal(textimg_png("x", 192, 48, 0, &png, &len), 0);
    funk_accel_detection d[2];
    assert_int_equal(funk_accel_image_detect(f->s, r, png, len, 0, d, 2), -ENOTSUP);
    free(png);
    assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
    assert_int_equal(funk_accel_resource_release(r), 0);
}

static void test_classifier_bad_attrs(void **state)
{
    fixture *f = *state;
    unsigned char *png;
    size_t len;
    assert_int_equal(textimg_png("abc", 192, 48, 0, &png, &len), 0);
    funk_accel_label out[2];
    const char *bad_inputs[] = {NULL, "192", "0x48", "axb", "192x48x3"};
    for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(*bad_inputs); i++) {
        funk_accel_resource *r = textdir_model(f, bad_inputs[i]);
        assert_int_equal(funk_accel_image_classify(f->s, r, png, len, out, 2), -EINVAL);
        assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
        assert_int_equal(funk_accel_resource_release(r), 0);
    }
    /* each bad value with the code it gets: bad values -EINVAL, unsupported ones -ENOTSUP */
    const struct {
        const char *key, *value;
        int rc;
    } bad[] = {
        {"channels", "rgba", -EINVAL},   {"softmax", "maybe", -EINVAL},
        {"scale", "1,2", -EINVAL},       {"mean", "a,b,c", -EINVAL},
        {"scale", "", -EINVAL},          {"layout", "nhwc", -ENOTSUP},
        {"kind", "segmenter", -ENOTSUP},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        funk_accel_resource *r = textdir_model_with(f, "192x48", bad[i].key, bad[i].value);
        assert_int_equal(funk_accel_image_classify(f->s, r, png, len, out, 2), bad[i].rc);
        assert_int_equal(funk_accel_session_unregister(f->s, r), 0);
        assert_int_equal(funk_accel_resource_release(r), 0);
    }
    free(png);
}

typedef struct worker {
    funk_accel_session *s;
    const void *img;
    size_t len;
    int rc;
    char top[FUNK_ACCEL_LABEL_MAX];
} worker;

static void *classify_worker(void *arg)
{
    worker *w = arg;
    funk_accel_label out[1];
    for (int i = 0; i < 2; i++) {
        w->rc = funk_accel_image_classify(w->s, NULL, w->img, w->len, out, 1);
        if (w->rc != 1)
            return NULL;
        snprintf(w->top, sizeof(w->top), "%s", out[0].label);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    size_t dlen, hlen;
    void *dog = slurp(DARKNET "dog.jpg", &dlen);
    void *horses = slurp(DARKNET "horses.jpg", &hlen);
    worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        assert_int_equal(funk_accel_session_new(&w[i].s), 0);
        w[i].img = i % 2 ? horses : dog;
        w[i].len = i % 2 ? hlen : dlen;
        assert_int_equal(pthread_create(&t[i], NULL, classify_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].rc, 1);
        assert_string_equal(w[i].top, i % 2 ? "horse" : "car");
        funk_accel_session_delete(w[i].s);
    }
    free(dog);
    free(horses);
}

int main(void)
{
    const char *dir = getenv("FUNK_MODEL_DIR");
    snprintf(model_dir, sizeof(model_dir), "%s", dir && *dir ? dir : ".cache/models");
    char p1[4200], p2[4200];
    model_path(p1, sizeof(p1), "centernet.onnx");
    model_path(p2, sizeof(p2), "textdir.onnx");
    struct stat st;
    if (stat(p1, &st) != 0 || stat(p2, &st) != 0) {
        fprintf(stderr, "\n*** SKIP: models missing in %s (run scripts/models.sh) ***\n\n",
                model_dir);
        return 77;
    }
    if (stat(DARKNET "dog.jpg", &st) != 0) {
        fprintf(stderr, "\n*** SKIP: %s missing (apt-get install darknet) ***\n\n", DARKNET);
        return 77;
    }
    setenv("FUNK_ACCEL_PLUGINS", "cpu", 1);
    int rc = funk_accel_init(NULL);
    if (rc < 0) {
        fprintf(stderr, "funk_accel_init: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_classify_dog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classify_horses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detect_dog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_an_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_centernet_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_direction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classifier_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classifier_bad_attrs, setup, teardown),
        cmocka_unit_test(test_concurrent),
    };
    rc = cmocka_run_group_tests_name("cpu_dnn", tests, NULL, NULL);
    funk_accel_fini();
    return rc;
}
