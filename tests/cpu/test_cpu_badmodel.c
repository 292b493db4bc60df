/* SPDX-License-Identifier: Apache-2.0 */
/* cpu plugin with a corrupt default model in FUNK_MODEL_DIR, a missing model file, recovery. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <funk/accel.h>

#include "slurp.h"

#define DOG "/usr/share/darknet/data/dog.jpg"

static char tmpdir[] = "/tmp/funk-cpu-badmodel-XXXXXX";
static char real_model[4096];

static void write_file(const char *name, const void *data, size_t len)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_corrupt_then_fixed_default(void **state)
{
    (void)state;
    size_t mlen, ilen;
    void *model = slurp(real_model, &mlen);
    void *img = slurp(DOG, &ilen);
    assert_non_null(model);
    assert_non_null(img);
    funk_accel_session *s;
    assert_int_equal(funk_accel_session_new(&s), 0);
    funk_accel_label out[3];

    write_file("centernet.onnx", model, mlen / 2); /* cut in half */
    assert_int_equal(funk_accel_image_classify(s, NULL, img, ilen, out, 3), -EBADMSG);
    write_file("centernet.onnx", "garbage, not onnx", 17);
    assert_int_equal(funk_accel_image_classify(s, NULL, img, ilen, out, 3), -EBADMSG);

    /* failures are not cached: once the file is good the next call loads it */
    write_file("centernet.onnx", model, mlen);
    assert_int_equal(funk_accel_image_classify(s, NULL, img, ilen, out, 3), 3);
    /* no coco80.txt in this folder: classes are reported by number */
    assert_string_equal(out[0].label, "class 2");
    assert_int_equal(out[0].class_id, 2);
    funk_accel_session_delete(s);
    free(model);
    free(img);
}

static void test_missing_model_file(void **state)
{
    (void)state;
    funk_accel_resource *r = NULL;
    char path[4200];
    snprintf(path, sizeof(path), "%s/does-not-exist.onnx", tmpdir);
    assert_int_equal(funk_accel_resource_new_file(&r, FUNK_ACCEL_RES_MODEL, path), -ENOENT);
    assert_null(r);
}

int main(void)
{
    const char *dir = getenv("FUNK_MODEL_DIR");
    snprintf(real_model, sizeof(real_model), "%s/centernet.onnx",
             dir && *dir ? dir : ".cache/models");
    struct stat st;
    if (stat(real_model, &st) != 0 || stat(DOG, &st) != 0) {
        fprintf(stderr, "\n*** SKIP: %s or %s missing (run scripts/models.sh) ***\n\n", real_model,
                DOG);
        return 77;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("FUNK_MODEL_DIR", tmpdir, 1);
    setenv("FUNK_ACCEL_PLUGINS", "cpu", 1);
    int rc = funk_accel_init(NULL);
    if (rc < 0) {
        fprintf(stderr, "funk_accel_init: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corrupt_then_fixed_default),
        cmocka_unit_test(test_missing_model_file),
    };
    rc = cmocka_run_group_tests_name("cpu_badmodel", tests, NULL, NULL);
    funk_accel_fini();
    char path[4200];
    snprintf(path, sizeof(path), "%s/centernet.onnx", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    return rc;
}
