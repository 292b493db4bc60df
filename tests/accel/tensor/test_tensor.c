/* SPDX-License-Identifier: Apache-2.0 */
/* Model-run test client: runs the test model (make_onnx.py / make_torchscript.cpp) through
 * whatever FUNK_ACCEL_PLUGINS names (a backend natively, or rpc to an agent) and checks the
 * numbers against a reference computed here; then hostile descriptors through OPNAME. */
#include <funk/abi/accel_tensor.h>
#include <funk/accel.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)

static const float X[2][4] = {{1.0f, -2.0f, 3.0f, 0.5f}, {-1.0f, 0.25f, 2.0f, -3.0f}};

/* The model's function, in double, from the weights' definition (not from any framework). */
static void reference(double y[2][3], double z[2][3])
{
    for (int b = 0; b < 2; b++)
        for (int j = 0; j < 3; j++) {
            double acc = 0.25 * j - 0.3;
            for (int i = 0; i < 4; i++)
                acc += X[b][i] * (0.1 * (3 * i + j) - 0.5);
            y[b][j] = acc;
            z[b][j] = acc > 0 ? acc : 0;
        }
}

static void check_out(const char *what, const funk_accel_tensor *t, double ref[2][3])
{
    CHECK(t->dtype == FUNK_ACCEL_DT_F32 && t->rank == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
              t->used == 24,
          "%s: dtype %u rank %u shape %lld x %lld used %zu", what, t->dtype, t->rank,
          (long long)t->shape[0], (long long)t->shape[1], t->used);
    if (t->used != 24 || t->data == NULL)
        return;
    const float *v = t->data;
    for (int i = 0; i < 6; i++)
        CHECK(fabs(v[i] - ref[i / 3][i % 3]) < 1e-5, "%s[%d] = %.7f, reference %.7f", what, i, v[i],
              ref[i / 3][i % 3]);
}

static int read_file(const char *path, void **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n <= 0 || (*data = malloc((size_t)n)) == NULL) {
        fclose(f);
        return -EIO;
    }
    *len = fread(*data, 1, (size_t)n, f);
    fclose(f);
    return *len == (size_t)n ? 0 : -EIO;
}

/* A raw "model_run" with one input descriptor d over data of len bytes. */
static int raw_run(funk_accel_session *s, const char *op, const uint8_t *hash,
                   const struct funk_accel_tensor_desc *d, const void *data, size_t len)
{
    struct funk_accel_tensor_call call = {
        FUNK_ACCEL_TENSOR_MAGIC, FUNK_ACCEL_TENSOR_WIRE_VERSION, 0, 1, 1, {0}};
    memcpy(call.model_hash, hash, 32);
    struct funk_accel_tensor_desc ds[2] = {*d, {0}};
    struct funk_accel_tensor_desc od[1];
    float o[6];
    funk_accel_arg in[3] = {FUNK_ACCEL_ARG_BYTES_OF(&call, sizeof(call)),
                            FUNK_ACCEL_ARG_BYTES_OF(ds, sizeof(ds)),
                            FUNK_ACCEL_ARG_BYTES_OF(data, len)};
    funk_accel_arg out[2] = {FUNK_ACCEL_ARG_BYTES_OF(od, sizeof(od)),
                             FUNK_ACCEL_ARG_BYTES_OF(o, sizeof(o))};
    return funk_accel_op(s, op, in, 3, out, 2);
}

static void hostile(funk_accel_session *s, const char *op, const uint8_t *hash)
{
    static float data[8];
    struct funk_accel_tensor_desc good = {FUNK_ACCEL_DT_F32, 2, {2, 4}, "x"}, d;
    CHECK(raw_run(s, op, hash, &good, data, sizeof(data)) == 0, "%s: the well-formed run", op);
    d = good;
    d.dtype = 99;
    CHECK(raw_run(s, op, hash, &d, data, sizeof(data)) == -EINVAL, "%s: unknown dtype", op);
    d = good;
    d.rank = 100;
    CHECK(raw_run(s, op, hash, &d, data, sizeof(data)) == -E2BIG, "%s: rank 100", op);
    d = good;
    d.rank = 4;
    d.shape[0] = d.shape[1] = d.shape[2] = d.shape[3] = (int64_t)1 << 32; /* 2^128 elements */
    CHECK(raw_run(s, op, hash, &d, data, sizeof(data)) == -E2BIG, "%s: shape overflow", op);
    d = good;
    d.shape[0] = (int64_t)1 << 62;
    d.shape[1] = 4; /* 2^64 elements: wraps to 0 in unchecked arithmetic */
    CHECK(raw_run(s, op, hash, &d, data, sizeof(data)) == -E2BIG, "%s: shape wrap", op);
    d = good;
    d.shape[1] = 3;
    CHECK(raw_run(s, op, hash, &d, data, sizeof(data)) == -EINVAL, "%s: wrong data size", op);
    d = good;
    d.shape[0] = -2;
    d.shape[1] = -4;
    CHECK(raw_run(s, op, hash, &d, data, sizeof(data)) == -EINVAL, "%s: negative dims", op);
    d = good;
    memset(d.name, 'n', sizeof(d.name));
    CHECK(raw_run(s, op, hash, &d, data, sizeof(data)) == -EINVAL, "%s: unterminated name", op);
    uint8_t other[32];
    memcpy(other, hash, 32);
    other[0] ^= 1;
    CHECK(raw_run(s, op, other, &good, data, sizeof(data)) == -ENOENT, "%s: unknown model", op);
    /* A header that lies about the counts. */
    struct funk_accel_tensor_call call = {
        FUNK_ACCEL_TENSOR_MAGIC, FUNK_ACCEL_TENSOR_WIRE_VERSION, 0, 40, 1, {0}};
    funk_accel_arg in[2] = {FUNK_ACCEL_ARG_BYTES_OF(&call, sizeof(call)),
                            FUNK_ACCEL_ARG_BYTES_OF(&good, sizeof(good))};
    funk_accel_arg out[1] = {FUNK_ACCEL_ARG_BYTES_OF(data, sizeof(data))};
    CHECK(funk_accel_op(s, op, in, 2, out, 1) == -E2BIG, "%s: 40 inputs", op);
    call.n_in = 1;
    call.magic = 0;
    CHECK(funk_accel_op(s, op, in, 2, out, 1) == -EPROTO, "%s: bad magic", op);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL onnx|torchscript OPNAME\n", argv[0]);
        return 64;
    }
    const char *path = argv[1], *fmt = argv[2], *op = argv[3];
    bool torch = !strcmp(fmt, "torchscript");
    const char *yname = torch ? "0" : "y", *zname = torch ? "1" : "z";
    void *bytes = NULL;
    size_t len = 0;
    if (read_file(path, &bytes, &len) < 0) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    funk_accel_session *s;
    funk_accel_resource *model;
    int rc = funk_accel_session_new(&s);
    if (rc == 0)
        rc = funk_accel_resource_new_buffer(&model, FUNK_ACCEL_RES_MODEL, bytes, len);
    if (rc == 0)
        rc = funk_accel_session_register(s, model);
    if (rc < 0) {
        fprintf(stderr, "setup: %s\n", funk_accel_strerror(rc));
        return 1;
    }
    double ry[2][3], rz[2][3];
    reference(ry, rz);
    int64_t shape[2] = {2, 4};
    funk_accel_tensor in;
    funk_accel_tensor_init(&in, torch ? "x" : "x", FUNK_ACCEL_DT_F32, 2, shape, (void *)X,
                           sizeof(X));

    /* Caller-provided outputs, named. */
    float yb[6], zb[6];
    funk_accel_tensor out[2];
    funk_accel_tensor_init(&out[0], yname, 0, 0, NULL, yb, sizeof(yb));
    funk_accel_tensor_init(&out[1], zname, 0, 0, NULL, zb, sizeof(zb));
    rc = funk_accel_model_run(s, model, &in, 1, out, 2);
    if (rc == -ENOTSUP && getenv("FUNK_TENSOR_MAY_BE_ABSENT")) {
        printf("SKIP: no plugin of %s can run the model here (device absent)\n",
               getenv("FUNK_ACCEL_PLUGINS"));
        return 77;
    }
    CHECK(rc == 0, "run (caller buffers): %s", funk_accel_strerror(rc));
    if (rc == 0) {
        check_out("y", &out[0], ry);
        check_out("z", &out[1], rz);
        CHECK(!(out[0].flags & FUNK_ACCEL_TENSOR_F_OWNED), "caller buffer marked owned");
    }

    /* Library-allocated outputs. */
    funk_accel_tensor_init(&out[0], yname, 0, 0, NULL, NULL, 0);
    funk_accel_tensor_init(&out[1], zname, 0, 0, NULL, NULL, 0);
    rc = funk_accel_model_run(s, model, &in, 1, out, 2);
    CHECK(rc == 0, "run (library buffers): %s", funk_accel_strerror(rc));
    if (rc == 0) {
        check_out("y (allocated)", &out[0], ry);
        check_out("z (allocated)", &out[1], rz);
        CHECK(out[0].flags & FUNK_ACCEL_TENSOR_F_OWNED && out[0].size == 24, "ownership");
        funk_accel_tensor_release(&out[0]);
        funk_accel_tensor_release(&out[1]);
        CHECK(out[0].data == NULL && out[0].flags == 0, "release clears");
    }

    /* Positional: the model's first output. */
    funk_accel_tensor_init(&out[0], NULL, 0, 0, NULL, yb, sizeof(yb));
    rc = funk_accel_model_run(s, model, &in, 1, out, 1);
    CHECK(rc == 0, "run (positional): %s", funk_accel_strerror(rc));
    if (rc == 0)
        check_out("first output", &out[0], ry);

    /* Too small: -ENOSPC, with the size and shape needed; nothing allocated stays. */
    float small[1];
    funk_accel_tensor_init(&out[0], yname, 0, 0, NULL, small, sizeof(small));
    funk_accel_tensor_init(&out[1], zname, 0, 0, NULL, NULL, 0);
    rc = funk_accel_model_run(s, model, &in, 1, out, 2);
    CHECK(rc == -ENOSPC, "run (small buffer): %s", funk_accel_strerror(rc));
    CHECK(out[0].used == 24 && out[0].rank == 2 && out[0].shape[1] == 3, "ENOSPC: used %zu",
          out[0].used);
    CHECK(out[1].data == NULL && out[1].flags == 0, "ENOSPC: an allocated output stayed");

    /* The public API's own checks. */
    funk_accel_tensor bad = in;
    bad.rank = 100;
    CHECK(funk_accel_model_run(s, model, &bad, 1, out, 1) == -E2BIG, "API: rank 100");
    bad = in;
    bad.size = 12;
    CHECK(funk_accel_model_run(s, model, &bad, 1, out, 1) == -EINVAL, "API: wrong size");
    bad = in;
    bad.dtype = 42;
    CHECK(funk_accel_model_run(s, model, &bad, 1, out, 1) == -EINVAL, "API: unknown dtype");
    bad = in;
    bad.shape[0] = INT64_MAX;
    bad.shape[1] = INT64_MAX;
    CHECK(funk_accel_model_run(s, model, &bad, 1, out, 1) == -E2BIG, "API: shape overflow");

    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    CHECK(funk_accel_resource_hash(model, hash) == 0, "hash");
    hostile(s, op, hash);

    funk_accel_session_delete(s);
    funk_accel_resource_release(model);
    free(bytes);
    printf("%s: %s via %s: %s\n", argv[0], fmt, getenv("FUNK_ACCEL_PLUGINS"),
           fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
