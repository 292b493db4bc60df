/* SPDX-License-Identifier: Apache-2.0 */
/* Test unikernel for model runs through the ACCEL hypercall (accel_case.py --function tensor):
 *   request  = u32 model_len, u32 format (0 ONNX, 1 TorchScript), model bytes, x (2x4 f32)
 *   response = y then z (2x3 f32 each, the model's two outputs), or a text error (status 502).
 * The guest only moves bytes (no floating point: KVM here cannot emulate it); the runner checks
 * the numbers. Also asks with a too-small output buffer and expects -ENOSPC with the shape, and
 * sends hostile tensor descriptors that the host must refuse. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <funk/abi/accel_tensor.h>
#include <funk/accel.h>
#include <funk/fn.h>

static float x[8], out_buf[12];

static void fail(const char *what, int rc)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "tensor: %s: %s (%d)\n", what, funk_accel_strerror(rc), rc);
    funk_fn_send(502, "Content-Type: text/plain\n", msg, strlen(msg));
}

/* The generic op as a hostile guest could send it, bypassing the SDK's own checks: the host
 * (monitor in process, or the agent) must refuse each descriptor. Returns 0 when all were. */
static int hostile(funk_accel_session *s, funk_accel_resource *model)
{
    static struct funk_accel_tensor_call call;
    static struct funk_accel_tensor_desc d[2], od[2];
    static funk_accel_arg in[3], out[2];
    static const int64_t huge = (int64_t)1 << 40;
    static const struct {
        uint32_t dtype, rank;
        int64_t d0, d1, d2;
        int want;
    } cases[] = {
        {99, 2, 2, 4, 0, -EINVAL},                     /* unknown dtype */
        {FUNK_ACCEL_DT_F32, 100, 2, 4, 0, -E2BIG},     /* rank over the cap */
        {FUNK_ACCEL_DT_F32, 3, huge, huge, 8, -E2BIG}, /* element count overflows */
        {FUNK_ACCEL_DT_F32, 2, 2, 3, 0, -EINVAL},      /* data of another size */
        {FUNK_ACCEL_DT_F32, 2, -2, -4, 0, -EINVAL},    /* negative dimensions */
    };
    uint8_t h[FUNK_ACCEL_HASH_SIZE];
    if (funk_accel_resource_hash(model, h) != 0)
        return 1;
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&call, 0, sizeof(call));
        call.magic = FUNK_ACCEL_TENSOR_MAGIC;
        call.version = FUNK_ACCEL_TENSOR_WIRE_VERSION;
        call.n_in = call.n_out = 1;
        memcpy(call.model_hash, h, sizeof(h));
        memset(d, 0, sizeof(d));
        d[0].dtype = cases[i].dtype;
        d[0].rank = cases[i].rank;
        d[0].shape[0] = cases[i].d0;
        d[0].shape[1] = cases[i].d1;
        d[0].shape[2] = cases[i].d2;
        in[0] = FUNK_ACCEL_ARG_BYTES_OF(&call, sizeof(call));
        in[1] = FUNK_ACCEL_ARG_BYTES_OF(d, sizeof(d));
        in[2] = FUNK_ACCEL_ARG_BYTES_OF(x, sizeof(x));
        out[0] = FUNK_ACCEL_ARG_BYTES_OF(od, sizeof(od[0]));
        out[1] = FUNK_ACCEL_ARG_BYTES_OF(out_buf, 24);
        int rc = funk_accel_op(s, FUNK_ACCEL_TENSOR_OP, in, 3, out, 2);
        if (rc != cases[i].want) {
            char msg[96];
            snprintf(msg, sizeof(msg), "hostile descriptor %u answered %d, want %d", i, rc,
                     cases[i].want);
            fail(msg, rc);
            return 1;
        }
    }
    return 0;
}

static void answer(funk_accel_session *s, const struct funk_fn_req *req)
{
    const unsigned char *b = req->body;
    uint32_t len, fmt;
    if (req->body_len < 8) {
        fail("short request", -EINVAL);
        return;
    }
    memcpy(&len, b, 4);
    memcpy(&fmt, b + 4, 4);
    if (len == 0 || req->body_len != 8 + (size_t)len + sizeof(x)) {
        fail("request size", -EINVAL);
        return;
    }
    memcpy(x, b + 8 + len, sizeof(x));
    funk_accel_resource *model;
    int rc = funk_accel_resource_new_buffer(&model, FUNK_ACCEL_RES_MODEL, b + 8, len);
    if (rc < 0) {
        fail("resource", rc);
        return;
    }
    if ((rc = funk_accel_session_register(s, model)) < 0) {
        fail("register", rc);
        return;
    }
    int64_t shape[2] = {2, 4};
    funk_accel_tensor in, out[2];
    funk_accel_tensor_init(&in, "x", FUNK_ACCEL_DT_F32, 2, shape, x, sizeof(x));
    funk_accel_tensor_init(&out[0], fmt ? "0" : "y", 0, 0, NULL, out_buf, 4);
    funk_accel_tensor_init(&out[1], fmt ? "1" : "z", 0, 0, NULL, out_buf + 6, 24);
    rc = funk_accel_model_run(s, model, &in, 1, out, 2);
    if (rc != -ENOSPC || out[0].used != 24 || out[0].rank != 2 || out[0].shape[1] != 3) {
        fail("a 4-byte output must be -ENOSPC with 24 bytes and shape 2x3", rc);
        return;
    }
    if (hostile(s, model))
        return;
    out[0].size = 24;
    rc = funk_accel_model_run(s, model, &in, 1, out, 2);
    if (rc < 0) {
        fail("model_run", rc);
        return;
    }
    if (out[0].used != 24 || out[1].used != 24 || out[0].dtype != FUNK_ACCEL_DT_F32) {
        fail("output shapes", -EPROTO);
        return;
    }
    funk_accel_session_unregister(s, model);
    funk_accel_resource_release(model);
    funk_fn_send(200, "Content-Type: application/octet-stream\n", out_buf, sizeof(out_buf));
}

int main(void)
{
    funk_accel_session *s = NULL;
    int arc = funk_accel_session_new(&s), rc;
    struct funk_fn_req req;
    while ((rc = funk_fn_recv(&req)) == 0) {
        if (arc < 0)
            fail("no accelerator session", arc);
        else
            answer(s, &req);
    }
    if (arc == 0)
        funk_accel_session_delete(s);
    return rc < 0 || arc < 0 ? 1 : 0;
}
