/* SPDX-License-Identifier: Apache-2.0 */
/* Model-run units on the noop plugin (its models are the identity, no framework needed): tensor
 * checks, output ownership, -ENOSPC, and the "model_run" generic op's hostile-input checks. */
#include <funk/abi/accel_tensor.h>
#include <funk/accel.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static funk_accel_session *s;
static funk_accel_resource *model;
static uint8_t hash[FUNK_ACCEL_HASH_SIZE];
static const int32_t X[6] = {1, -2, 3, 40000, -50000, 6};

static int setup(void **state)
{
    (void)state;
    static const char bytes[] = "any bytes: the noop plugin's model is the identity";
    if (funk_accel_init("noop") != 0 || funk_accel_session_new(&s) != 0 ||
        funk_accel_resource_new_buffer(&model, FUNK_ACCEL_RES_MODEL, bytes, sizeof(bytes)) != 0 ||
        funk_accel_session_register(s, model) != 0 || funk_accel_resource_hash(model, hash) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    funk_accel_session_delete(s);
    funk_accel_resource_release(model);
    funk_accel_fini();
    return 0;
}

static void input(funk_accel_tensor *t)
{
    int64_t shape[2] = {2, 3};
    assert_int_equal(
        funk_accel_tensor_init(t, "x", FUNK_ACCEL_DT_I32, 2, shape, (void *)X, sizeof(X)), 0);
}

static void test_dtypes_and_counts(void **state)
{
    (void)state;
    assert_int_equal(funk_accel_dtype_size(FUNK_ACCEL_DT_F32), 4);
    assert_int_equal(funk_accel_dtype_size(FUNK_ACCEL_DT_F16), 2);
    assert_int_equal(funk_accel_dtype_size(0), 0);
    assert_int_equal(funk_accel_dtype_size(99), 0);
    assert_string_equal(funk_accel_dtype_name(FUNK_ACCEL_DT_I64), "i64");
    funk_accel_tensor t;
    input(&t);
    assert_int_equal(funk_accel_tensor_count(&t, 1), 6);
    t.size = 23;
    assert_int_equal(funk_accel_tensor_count(&t, 1), -EINVAL);
    assert_int_equal(funk_accel_tensor_count(&t, 0), 6);
    t.rank = 0; /* a scalar */
    assert_int_equal(funk_accel_tensor_count(&t, 0), 1);
    t.rank = 9;
    assert_int_equal(funk_accel_tensor_count(&t, 0), -E2BIG);
    t.rank = 3;
    t.shape[0] = t.shape[1] = t.shape[2] = INT64_C(1) << 22; /* 2^66: overflows 64 bits */
    assert_int_equal(funk_accel_tensor_count(&t, 0), -E2BIG);
    t.shape[0] = 1 << 20;
    t.shape[1] = 1 << 7;
    t.shape[2] = 1; /* 2^27 i32 = 512 MiB: over the 256 MiB cap */
    assert_int_equal(funk_accel_tensor_count(&t, 0), -E2BIG);
    t.shape[2] = 0;
    assert_int_equal(funk_accel_tensor_count(&t, 0), -EINVAL);
    assert_int_equal(funk_accel_tensor_init(&t, NULL, 1, 9, (int64_t[9]){0}, NULL, 0), -EINVAL);
}

static void test_run_outputs(void **state)
{
    (void)state;
    funk_accel_tensor in, out[2];
    input(&in);
    int32_t buf[6];
    funk_accel_tensor_init(&out[0], NULL, 0, 0, NULL, buf, sizeof(buf));
    funk_accel_tensor_init(&out[1], NULL, 0, 0, NULL, NULL, 0);
    funk_accel_tensor in2[2] = {in, in};
    assert_int_equal(funk_accel_model_run(s, model, in2, 2, out, 2), 0);
    assert_memory_equal(buf, X, sizeof(X));
    assert_int_equal(out[0].used, sizeof(X));
    assert_int_equal(out[0].dtype, FUNK_ACCEL_DT_I32);
    assert_int_equal(out[0].shape[1], 3);
    assert_int_equal(out[0].flags, 0);
    assert_true(out[1].flags & FUNK_ACCEL_TENSOR_F_OWNED);
    assert_int_equal(out[1].size, sizeof(X));
    assert_memory_equal(out[1].data, X, sizeof(X));
    funk_accel_tensor_release(&out[1]);
    assert_null(out[1].data);

    /* Too small: -ENOSPC with the size; the library output allocated meanwhile is freed. */
    funk_accel_tensor_init(&out[0], NULL, 0, 0, NULL, NULL, 0);
    funk_accel_tensor_init(&out[1], NULL, 0, 0, NULL, buf, 8);
    assert_int_equal(funk_accel_model_run(s, model, in2, 2, out, 2), -ENOSPC);
    assert_int_equal(out[1].used, sizeof(X));
    assert_null(out[0].data);
    assert_int_equal(out[0].flags, 0);

    /* Caller errors. */
    funk_accel_tensor_init(&out[0], NULL, 0, 0, NULL, buf, 0); /* data without size */
    assert_int_equal(funk_accel_model_run(s, model, &in, 1, out, 1), -EINVAL);
    funk_accel_tensor_init(&out[0], NULL, 0, 0, NULL, buf, sizeof(buf));
    assert_int_equal(funk_accel_model_run(s, model, &in, 0, out, 1), -EINVAL);
    assert_int_equal(funk_accel_model_run(s, NULL, &in, 1, out, 1), -EINVAL);
    funk_accel_tensor many[FUNK_ACCEL_TENSOR_MAX + 1];
    for (size_t i = 0; i <= FUNK_ACCEL_TENSOR_MAX; i++)
        many[i] = in;
    assert_int_equal(funk_accel_model_run(s, model, many, FUNK_ACCEL_TENSOR_MAX + 1, out, 1),
                     -E2BIG);
    char long_name[FUNK_ACCEL_TENSOR_NAME_MAX + 8];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    funk_accel_tensor named = in;
    named.name = long_name;
    assert_int_equal(funk_accel_model_run(s, model, &named, 1, out, 1), -EINVAL);
    /* A model not registered to the session. */
    funk_accel_resource *other;
    assert_int_equal(funk_accel_resource_new_buffer(&other, FUNK_ACCEL_RES_MODEL, "o", 1), 0);
    assert_int_equal(funk_accel_model_run(s, other, &in, 1, out, 1), -EPERM);
    funk_accel_resource_release(other);
}

/* The generic op as a transport delivers it: in[0] header, in[1] descriptors, in[2] data. */
struct wire {
    struct funk_accel_tensor_call call;
    struct funk_accel_tensor_desc d[2], od[1];
    int32_t o[6];
    funk_accel_arg in[3], out[2];
};

static void wire_init(struct wire *w)
{
    memset(w, 0, sizeof(*w));
    w->call = (struct funk_accel_tensor_call){
        FUNK_ACCEL_TENSOR_MAGIC, FUNK_ACCEL_TENSOR_WIRE_VERSION, 0, 1, 1, {0}};
    memcpy(w->call.model_hash, hash, sizeof(hash));
    w->d[0] = (struct funk_accel_tensor_desc){FUNK_ACCEL_DT_I32, 2, {2, 3}, "x"};
    w->in[0] = FUNK_ACCEL_ARG_BYTES_OF(&w->call, sizeof(w->call));
    w->in[1] = FUNK_ACCEL_ARG_BYTES_OF(w->d, sizeof(w->d));
    w->in[2] = FUNK_ACCEL_ARG_BYTES_OF(X, sizeof(X));
    w->out[0] = FUNK_ACCEL_ARG_BYTES_OF(w->od, sizeof(w->od));
    w->out[1] = FUNK_ACCEL_ARG_BYTES_OF(w->o, sizeof(w->o));
}

static int wire_run(struct wire *w)
{
    return funk_accel_op(s, FUNK_ACCEL_TENSOR_OP, w->in, 3, w->out, 2);
}

static void test_wire_hostile(void **state)
{
    (void)state;
    struct wire w;
    wire_init(&w);
    assert_int_equal(wire_run(&w), 0);
    assert_memory_equal(w.o, X, sizeof(X));
    assert_int_equal(w.od[0].rank, 2);
    assert_int_equal(w.od[0].shape[1], 3);
    assert_int_equal(w.out[1].used, sizeof(X));

    w.out[1].size = 8; /* too small: status 1, the size and shape still come back */
    assert_int_equal(wire_run(&w), FUNK_ACCEL_TENSOR_R_NOSPC);
    assert_int_equal(w.out[1].used, sizeof(X));
    assert_int_equal(w.od[0].shape[0], 2);

#define BAD(want, ...)                                                                             \
    do {                                                                                           \
        wire_init(&w);                                                                             \
        __VA_ARGS__;                                                                               \
        assert_int_equal(wire_run(&w), want);                                                      \
    } while (0)
    BAD(-EINVAL, w.d[0].dtype = 99); /* unknown dtype */
    BAD(-EINVAL, w.d[0].dtype = 0);
    BAD(-E2BIG, w.d[0].rank = 100); /* rank over the cap */
    BAD(-E2BIG, w.d[0].rank = 4; w.d[0].shape[2] = w.d[0].shape[3] = INT64_C(1) << 40);
    BAD(-E2BIG, w.d[0].shape[0] = INT64_C(1) << 62; w.d[0].shape[1] = 4); /* wraps to 0 */
    BAD(-EINVAL, w.d[0].shape[1] = 2);                                    /* data size mismatch */
    BAD(-EINVAL, w.d[0].shape[0] = -2; w.d[0].shape[1] = -3);             /* product 6, signs lie */
    BAD(-EINVAL, memset(w.d[0].name, 'x', sizeof(w.d[0].name)));          /* no NUL */
    BAD(-EINVAL, memset(w.d[1].name, 'x', sizeof(w.d[1].name)));          /* output name, no NUL */
    BAD(-ENOENT, w.call.model_hash[0] ^= 1);                              /* no such model */
    BAD(-EPROTO, w.call.magic = 0);
    BAD(-EPROTO, w.call.version = 2);
    BAD(-EPROTO, w.call.flags = 1);
    BAD(-E2BIG, w.call.n_in = 1000);
    BAD(-EINVAL, w.call.n_in = 0);
    BAD(-EINVAL, w.call.n_out = 2);              /* counts vs arguments */
    BAD(-EINVAL, w.in[1].size = sizeof(w.d[0])); /* descriptors short */
    BAD(-EINVAL, w.in[0].size = 40);
    BAD(-EINVAL, w.in[2].type = FUNK_ACCEL_ARG_I32; w.in[2].size = 4);
    BAD(-EINVAL, w.out[0].size = 8); /* no room for descriptors */
#undef BAD
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes_and_counts),
        cmocka_unit_test(test_run_outputs),
        cmocka_unit_test(test_wire_hostile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
