/* SPDX-License-Identifier: Apache-2.0 */
/* libvaccel unit tests on funk's noop plugin: argument helpers, genop unpacking and its checks,
 * resource/session rules, profiling regions. */
#include <vaccel.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_arg_array(void **state)
{
    (void)state;
    struct vaccel_arg_array a, w;
    int32_t in = 7, out = 0, got = 0;
    char str[] = "hello";
    assert_int_equal(vaccel_arg_array_init(&a, 1), 0);
    assert_int_equal(vaccel_arg_array_add_int32(&a, &in), 0);
    assert_int_equal(vaccel_arg_array_add_string(&a, str), 0); /* grows past capacity 1 */
    assert_int_equal(vaccel_arg_array_count(&a), 2);
    int64_t wrong;
    assert_int_equal(vaccel_arg_array_get_int64(&a, &wrong), VACCEL_EINVAL); /* type checked */
    assert_int_equal(vaccel_arg_array_get_int32(&a, &got), 0);
    assert_int_equal(got, 7);
    char *s;
    assert_int_equal(vaccel_arg_array_get_string(&a, &s), 0);
    assert_string_equal(s, "hello");
    assert_int_equal(vaccel_arg_array_get_int32(&a, &got), VACCEL_ERANGE);
    /* a string whose bytes carry no NUL (e.g. from another process) is refused */
    char raw[3] = {'a', 'b', 'c'};
    struct vaccel_arg bad = {raw, sizeof(raw), VACCEL_ARG_STRING, 0, false};
    struct vaccel_arg_array b;
    assert_int_equal(vaccel_arg_array_wrap(&b, &bad, 1), 0);
    assert_int_equal(vaccel_arg_array_get_string(&b, &s), VACCEL_EINVAL);
    /* wrapped arrays are fixed size */
    assert_int_equal(vaccel_arg_array_add_int32(&b, &in), VACCEL_ENOSPC);
    /* set writes into the caller's memory */
    assert_int_equal(vaccel_arg_array_init(&w, 1), 0);
    assert_int_equal(vaccel_arg_array_add_int32(&w, &out), 0);
    int32_t v = 42;
    assert_int_equal(vaccel_arg_array_set_int32(&w, &v), 0);
    assert_int_equal(out, 42);
    vaccel_arg_array_clear(&w);
    assert_int_equal(vaccel_arg_array_count(&w), 0);
    assert_int_equal(vaccel_arg_array_release(&w), 0);
    assert_int_equal(vaccel_arg_array_release(&a), 0);
    /* owned args copy */
    struct vaccel_arg o;
    assert_int_equal(vaccel_arg_init(&o, &in, sizeof(in), VACCEL_ARG_INT32, 0), 0);
    in = 8;
    assert_int_equal(*(int32_t *)o.buf, 7);
    assert_int_equal(vaccel_arg_release(&o), 0);
}

static void test_genop(void **state)
{
    (void)state;
    struct vaccel_session s;
    assert_int_equal(vaccel_session_init(&s, 0), 0);
    assert_true(s.id > 0);
    uint8_t op = VACCEL_OP_MAX;
    struct vaccel_arg r[11] = {{&op, 1, VACCEL_ARG_UINT8, 0, false}};
    assert_int_equal(vaccel_genop(&s, r, 1, NULL, 0), VACCEL_EINVAL);
    op = VACCEL_OP_TF_MODEL_RUN;
    assert_int_equal(vaccel_genop(&s, r, 1, NULL, 0), VACCEL_ENOTSUP);
    op = VACCEL_OP_NOOP;
    assert_int_equal(vaccel_genop(&s, r, 1, NULL, 0), 0);
    /* op type must be a UINT8 arg */
    struct vaccel_arg r32 = {&op, 1, VACCEL_ARG_INT8, 0, false};
    assert_int_equal(vaccel_genop(&s, &r32, 1, NULL, 0), VACCEL_EINVAL);

    /* sgemm: a C array shorter than m*n is refused before any plugin sees it */
    int64_t m = 4, n = 4, k = 4, ld = 4;
    float alpha = 1, beta = 0, a[16], b[16], c[16] = {0};
    for (int i = 0; i < 16; i++)
        a[i] = b[i] = (float)i;
    struct vaccel_arg_array ra, wa;
    op = VACCEL_OP_BLAS_SGEMM;
    vaccel_arg_array_init(&ra, 11);
    vaccel_arg_array_init(&wa, 1);
    vaccel_arg_array_add_uint8(&ra, &op);
    vaccel_arg_array_add_int64(&ra, &m);
    vaccel_arg_array_add_int64(&ra, &n);
    vaccel_arg_array_add_int64(&ra, &k);
    vaccel_arg_array_add_float(&ra, &alpha);
    vaccel_arg_array_add_float_array(&ra, a, 16);
    vaccel_arg_array_add_int64(&ra, &ld);
    vaccel_arg_array_add_float_array(&ra, b, 16);
    vaccel_arg_array_add_int64(&ra, &ld);
    vaccel_arg_array_add_float(&ra, &beta);
    vaccel_arg_array_add_int64(&ra, &ld);
    vaccel_arg_array_add_float_array(&wa, c, 15);
    assert_int_equal(vaccel_genop(&s, ra.args, (int)ra.count, wa.args, (int)wa.count),
                     VACCEL_EINVAL);
    vaccel_arg_array_clear(&wa);
    vaccel_arg_array_add_float_array(&wa, c, 16);
    assert_int_equal(vaccel_genop(&s, ra.args, (int)ra.count, wa.args, (int)wa.count), 0);
    assert_float_equal(c[0], 56.0f, 1e-4); /* row 0 of A (0 1 2 3) . column 0 of B (0 4 8 12) */
    vaccel_arg_array_release(&ra);
    vaccel_arg_array_release(&wa);

    unsigned char name[64];
    assert_int_equal(vaccel_image_depth(&s, "x", name, 1, sizeof(name)), VACCEL_ENOTSUP);
    /* pose and segmentation are generic ops of the cpu plugin; the noop plugin lacks them */
    assert_int_equal(vaccel_image_pose(&s, "x", name, 1, sizeof(name)), VACCEL_ENOENT);
    assert_int_equal(vaccel_image_segmentation(&s, "x", name, 1, sizeof(name)), VACCEL_ENOENT);
    assert_int_equal(vaccel_session_release(&s), 0);
    assert_int_equal(vaccel_session_release(&s), VACCEL_EINVAL); /* released twice */
}

static void test_resources(void **state)
{
    (void)state;
    struct vaccel_session s;
    struct vaccel_resource r, *found;
    static const char bytes[] = "not a library";
    assert_int_equal(vaccel_session_init(&s, 0), 0);
    assert_int_equal(
        vaccel_resource_init_from_buf(&r, bytes, sizeof(bytes), VACCEL_RESOURCE_LIB, "x.so", true),
        0);
    assert_int_equal(vaccel_resource_get_by_id(&found, r.id), 0);
    assert_ptr_equal(found, &r);
    int32_t x = 1;
    struct vaccel_arg arg = {&x, sizeof(x), VACCEL_ARG_INT32, 0, false};
    /* not registered to this session */
    assert_int_equal(vaccel_exec_with_resource(&s, &r, "f", &arg, 1, NULL, 0), VACCEL_EPERM);
    assert_int_equal(vaccel_resource_register(&r, &s), 0);
    assert_int_equal(vaccel_resource_register(&r, &s), VACCEL_EEXIST);
    assert_true(vaccel_session_has_resource(&s, &r));
    assert_int_equal(vaccel_resource_refcount(&r), 1);
    assert_int_equal(vaccel_resource_release(&r), VACCEL_EBUSY);
    assert_int_equal(vaccel_resource_unregister(&r, &s), 0);
    assert_int_equal(vaccel_resource_unregister(&r, &s), VACCEL_EPERM);
    assert_int_equal(vaccel_resource_release(&r), 0);
    assert_int_equal(vaccel_resource_get_by_id(&found, 999999), VACCEL_ENOENT);
    /* a missing file, and a URL of a scheme other than http(s) (those: tests/vaccel/url.sh) */
    assert_int_equal(vaccel_resource_init(&r, "/nonexistent/m.onnx", VACCEL_RESOURCE_MODEL),
                     VACCEL_ENOENT);
    assert_int_equal(vaccel_resource_init(&r, "ftp://example.org/m.onnx", VACCEL_RESOURCE_MODEL),
                     VACCEL_ENOTSUP);
    assert_int_equal(vaccel_session_release(&s), 0);
}

/* The three frameworks' tensor helpers: dims are copied, data is the caller's, bad input refused
 * (leaks and double frees are the sanitizers' to catch). */
static void test_tensors(void **state)
{
    (void)state;
    int64_t d64[2] = {2, 3};
    int32_t d32[2] = {4, 5};
    float data[6] = {0};
    struct vaccel_tf_tensor *tf;
    assert_int_equal(vaccel_tf_tensor_new(&tf, 2, d64, VACCEL_TF_FLOAT), 0);
    d64[0] = 9;
    assert_int_equal(tf->dims[0], 2);
    assert_int_equal(vaccel_tf_tensor_set_data(tf, data, sizeof(data)), 0);
    assert_ptr_equal(tf->data, data);
    assert_int_equal(tf->size, sizeof(data));
    assert_false(tf->owned);
    assert_int_equal(vaccel_tf_tensor_delete(tf), 0);
    assert_int_equal(vaccel_tf_tensor_new(&tf, -1, d64, VACCEL_TF_FLOAT), VACCEL_EINVAL);
    assert_int_equal(vaccel_tf_tensor_set_data(NULL, data, 1), VACCEL_EINVAL);

    struct vaccel_tflite_tensor *tl;
    assert_int_equal(vaccel_tflite_tensor_new(&tl, 2, d32, VACCEL_TFLITE_FLOAT32), 0);
    d32[1] = 9;
    assert_int_equal(tl->nr_dims, 2);
    assert_int_equal(tl->dims[1], 5);
    assert_int_equal(vaccel_tflite_tensor_set_data(tl, data, sizeof(data)), 0);
    assert_ptr_equal(tl->data, data);
    assert_int_equal(vaccel_tflite_tensor_delete(tl), 0);
    assert_int_equal(vaccel_tflite_tensor_new(&tl, 1, NULL, VACCEL_TFLITE_FLOAT32), VACCEL_EINVAL);
    assert_int_equal(vaccel_tflite_tensor_new(NULL, 1, d32, VACCEL_TFLITE_FLOAT32), VACCEL_EINVAL);
    assert_int_equal(vaccel_tflite_tensor_delete(NULL), VACCEL_EINVAL);

    struct vaccel_torch_tensor *tt;
    assert_int_equal(vaccel_torch_tensor_new(&tt, 0, NULL, VACCEL_TORCH_FLOAT), 0);
    assert_null(tt->dims);
    assert_int_equal(vaccel_torch_tensor_set_data(tt, data, sizeof(data)), 0);
    assert_int_equal(tt->size, sizeof(data));
    assert_int_equal(vaccel_torch_tensor_delete(tt), 0);
    assert_int_equal(vaccel_torch_tensor_new(&tt, -1, d64, VACCEL_TORCH_FLOAT), VACCEL_EINVAL);
    assert_int_equal(vaccel_torch_tensor_delete(NULL), VACCEL_EINVAL);
}

static void test_prof(void **state)
{
    (void)state;
    assert_true(vaccel_prof_enabled());
    struct vaccel_prof_region p = VACCEL_PROF_REGION_INIT("t");
    assert_int_equal(vaccel_prof_region_stop(&p), VACCEL_EINVAL); /* no start */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(vaccel_prof_region_start(&p), 0);
        assert_int_equal(vaccel_prof_region_stop(&p), 0);
    }
    assert_int_equal(vaccel_prof_region_stop(&p), VACCEL_EINVAL); /* stopped twice */
    assert_int_equal(p.nr_entries, 100);
    for (size_t i = 0; i < p.nr_entries; i++)
        assert_true(p.samples[i].time > 0);
    assert_int_equal(vaccel_prof_region_print(&p), 0);
    assert_int_equal(vaccel_prof_region_release(&p), 0);
    struct vaccel_prof_region rs[2] = {VACCEL_PROF_REGION_INIT("a"), VACCEL_PROF_REGION_INIT("b")};
    assert_int_equal(vaccel_prof_regions_start_by_name(rs, 2, "b"), 0);
    assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 2, "b"), 0);
    assert_int_equal(vaccel_prof_regions_start_by_name(rs, 2, "c"), VACCEL_EINVAL);
    assert_int_equal(rs[0].nr_entries, 0);
    assert_int_equal(rs[1].nr_entries, 1);
    assert_int_equal(vaccel_prof_regions_release(rs, 2), 0);
}

int main(void)
{
    setenv("VACCEL_PLUGINS", "libvaccel-noop.so", 1);
    setenv("VACCEL_PROFILING_ENABLED", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arg_array), cmocka_unit_test(test_genop),
        cmocka_unit_test(test_resources), cmocka_unit_test(test_tensors),
        cmocka_unit_test(test_prof),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    vaccel_cleanup();
    return rc;
}
