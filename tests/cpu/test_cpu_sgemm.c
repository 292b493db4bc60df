/* SPDX-License-Identifier: Apache-2.0 */
/* cpu plugin sgemm through the public API against a naive double-precision reference. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <funk/accel.h>

#define PAD_VALUE 1234.5f

static uint32_t rng = 12345;

static float frand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct shape {
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
} shape;

static void run_case(funk_accel_session *s, const shape *t)
{
    size_t asz = (size_t)t->m * t->lda, bsz = (size_t)t->k * t->ldb, csz = (size_t)t->m * t->ldc;
    float *a = malloc(asz * sizeof(float)), *b = malloc(bsz * sizeof(float));
    float *c = malloc(csz * sizeof(float)), *c0 = malloc(csz * sizeof(float));
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(c0);
    for (size_t i = 0; i < asz; i++)
        a[i] = frand();
    for (size_t i = 0; i < bsz; i++)
        b[i] = frand();
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < t->ldc; j++)
            c[(size_t)i * t->ldc + j] = j < t->n ? frand() : PAD_VALUE;
    memcpy(c0, c, csz * sizeof(float));

    assert_int_equal(
        funk_accel_sgemm(s, t->m, t->n, t->k, t->alpha, a, t->lda, b, t->ldb, t->beta, c, t->ldc),
        0);
    double worst = 0;
    for (int i = 0; i < t->m; i++) {
        for (int j = 0; j < t->ldc; j++) {
            float got = c[(size_t)i * t->ldc + j];
            if (j >= t->n) { /* padding between rows must stay untouched */
                assert_true(got == PAD_VALUE);
                continue;
            }
            double ref = 0;
            for (int p = 0; p < t->k; p++)
                ref += (double)a[(size_t)i * t->lda + p] * b[(size_t)p * t->ldb + j];
            ref = t->alpha * ref + t->beta * (double)c0[(size_t)i * t->ldc + j];
            double err = fabs(ref - got) / (1.0 + fabs(ref));
            worst = err > worst ? err : worst;
        }
    }
    print_message("sgemm %dx%dx%d lda %d ldb %d ldc %d alpha %g beta %g: max rel err %.2e\n", t->m,
                  t->n, t->k, t->lda, t->ldb, t->ldc, t->alpha, t->beta, worst);
    assert_true(worst < 1e-4 * (1 + t->k / 256.0));
    free(a);
    free(b);
    free(c);
    free(c0);
}

static void test_sgemm_shapes(void **state)
{
    funk_accel_session *s = *state;
    const shape cases[] = {
        {1, 1, 1, 1, 1, 1, 1.0f, 0.0f},
        {7, 13, 5, 5, 13, 13, 1.0f, 0.0f},
        {33, 17, 65, 70, 19, 21, 0.5f, 2.0f}, /* strides wider than the rows */
        {64, 64, 64, 64, 64, 64, -1.25f, 1.0f},
        {129, 3, 257, 300, 3, 8, 2.0f, -0.5f},
        {5, 200, 1, 1, 211, 203, 1.0f, 1.0f},
        {100, 101, 102, 103, 104, 105, 0.0f, 0.75f}, /* alpha 0: C = beta C */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        run_case(s, &cases[i]);
}

static void test_sgemm_bad_args(void **state)
{
    funk_accel_session *s = *state;
    float a[16] = {0}, b[16] = {0}, c[16] = {0};
    assert_int_equal(funk_accel_sgemm(s, 0, 2, 2, 1, a, 2, b, 2, 0, c, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, -1, 2, 1, a, 2, b, 2, 0, c, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, a, 1, b, 2, 0, c, 2), -EINVAL); /* lda < k */
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, a, 2, b, 1, 0, c, 2), -EINVAL); /* ldb < n */
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, a, 2, b, 2, 0, c, 1), -EINVAL); /* ldc < n */
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2), -EINVAL);
    assert_int_equal(funk_accel_sgemm(s, 2, 2, 2, 1, a, 2, b, 2, 0, NULL, 2), -EINVAL);
}

static void test_cpu_listed(void **state)
{
    (void)state;
    funk_accel_plugin_info info[8];
    int n = funk_accel_plugins(info, 8);
    assert_true(n >= 1);
    int found = 0;
    for (int i = 0; i < n && i < 8; i++) {
        if (strcmp(info[i].name, "cpu") != 0)
            continue;
        found = 1;
        assert_int_equal(info[i].priority, 100);
        assert_true(info[i].ops & (1u << FUNK_ACCEL_OP_SGEMM));
        assert_true(info[i].ops & (1u << FUNK_ACCEL_OP_IMAGE_CLASSIFY));
        assert_true(info[i].ops & (1u << FUNK_ACCEL_OP_IMAGE_DETECT));
    }
    assert_true(found);
}

static int setup(void **state)
{
    funk_accel_session *s;
    if (funk_accel_session_new(&s) != 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    return funk_accel_session_delete(*state);
}

int main(void)
{
    setenv("FUNK_ACCEL_PLUGINS", "cpu", 1);
    int rc = funk_accel_init(NULL);
    if (rc < 0) {
        fprintf(stderr, "funk_accel_init: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_listed),
        cmocka_unit_test_setup_teardown(test_sgemm_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sgemm_bad_args, setup, teardown),
    };
    rc = cmocka_run_group_tests_name("cpu_sgemm", tests, NULL, NULL);
    funk_accel_fini();
    return rc;
}
