/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of FUNK_ACCEL_OPENCL_DEVICE parsing and name matching (opencl plugin). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "opencl_select.h"

static void test_default(void **state)
{
    (void)state;
    ocl_select s;
    assert_int_equal(ocl_select_parse(NULL, &s), 0);
    assert_int_equal(s.kind, OCL_SELECT_DEFAULT);
    assert_int_equal(ocl_select_parse("", &s), 0);
    assert_int_equal(s.kind, OCL_SELECT_DEFAULT);
}

static void test_index(void **state)
{
    (void)state;
    ocl_select s;
    assert_int_equal(ocl_select_parse("0:0", &s), 0);
    assert_int_equal(s.kind, OCL_SELECT_INDEX);
    assert_int_equal(s.platform, 0);
    assert_int_equal(s.device, 0);
    assert_int_equal(ocl_select_parse("12:3", &s), 0);
    assert_int_equal(s.platform, 12);
    assert_int_equal(s.device, 3);
}

static void test_name(void **state)
{
    (void)state;
    ocl_select s;
    assert_int_equal(ocl_select_parse("pthread", &s), 0);
    assert_int_equal(s.kind, OCL_SELECT_NAME);
    assert_string_equal(s.name, "pthread");
    assert_int_equal(ocl_select_parse("nonexistent", &s), 0);
    assert_int_equal(s.kind, OCL_SELECT_NAME);
}

static void test_bad_index(void **state)
{
    (void)state;
    ocl_select s;
    const char *bad[] = {"1:", ":2", "1:x", "a:1", "1:2:3", ":", "-1:0", "1:99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ocl_select_parse(bad[i], &s), -EINVAL);
    assert_int_equal(ocl_select_parse("0:0", NULL), -EINVAL);
}

static void test_match(void **state)
{
    (void)state;
    assert_true(ocl_name_matches("pthread-skylake-avx512-AMD EPYC", "amd epyc"));
    assert_true(ocl_name_matches("NVIDIA H100 80GB HBM3", "H100"));
    assert_true(ocl_name_matches("Portable Computing Language", "portable"));
    assert_true(ocl_name_matches("x", ""));
    assert_false(ocl_name_matches("NVIDIA H100", "nonexistent"));
    assert_false(ocl_name_matches("H1", "H100"));
    assert_false(ocl_name_matches(NULL, "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default), cmocka_unit_test(test_index),
        cmocka_unit_test(test_name),    cmocka_unit_test(test_bad_index),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
