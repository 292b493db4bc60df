/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the accel wire protocol codec: round trips of every message, every malformed frame.
 */
#include "proto.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct fkp_buf b;
static uint8_t *payload; /* 16-aligned copy of the payload, as a receiver holds it */

/* Decodes the frame in b the way a receiver does: header, then an aligned payload copy. */
static int decode(struct fkp_msg *m)
{
    struct fkp_hdr h;
    assert_true(b.len >= FKP_HDR_SIZE);
    int rc = fkp_decode_header(b.p, 0, &h);
    if (rc < 0)
        return rc;
    if (h.len != b.len - FKP_HDR_SIZE)
        return -EMSGSIZE;
    free(payload);
    assert_int_equal(posix_memalign((void **)&payload, 16, h.len ? h.len : 8), 0);
    memcpy(payload, b.p + FKP_HDR_SIZE, h.len);
    return fkp_decode(&h, payload, m);
}

static void teardown_all(void)
{
    fkp_buf_free(&b);
    free(payload);
    payload = NULL;
}

static const uint8_t hash[FUNK_ACCEL_HASH_SIZE] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                                   12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                                   23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_simple_requests(void **st)
{
    (void)st;
    struct fkp_msg m;
    uint16_t types[] = {FKP_SESSION_NEW, FKP_PLUGINS, FKP_STATS};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fkp_enc_simple(&b, types[i], 77 + i), 0);
        assert_int_equal(b.len, FKP_HDR_SIZE);
        assert_int_equal(decode(&m), 0);
        assert_int_equal(m.h.type, types[i]);
        assert_int_equal(m.h.id, 77 + i);
        assert_int_equal(m.h.flags, 0);
    }
    assert_int_equal(fkp_enc_sid(&b, FKP_NOOP, 1ull << 40, 9), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.sess.sid, 9);
    assert_int_equal(m.h.id, 1ull << 40);
    assert_int_equal(fkp_enc_sid(&b, FKP_SESSION_DELETE, 3, 4), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.sess.sid, 4);
    assert_int_equal(fkp_enc_unregister(&b, 5, 6, 7), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.unreg.sid, 6);
    assert_int_equal(m.u.unreg.rid, 7);
}

static void test_resources(void **st)
{
    (void)st;
    struct fkp_msg m;
    assert_int_equal(fkp_enc_have(&b, 1, hash), 0);
    assert_int_equal(decode(&m), 0);
    assert_memory_equal(m.u.have.hash, hash, sizeof(hash));

    const char data[] = "model bytes, 27 of them....";
    assert_int_equal(fkp_enc_put(&b, 2, FUNK_ACCEL_RES_MODEL, hash, data, 27), 0);
    assert_int_equal(b.len % 8, 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.put.type, FUNK_ACCEL_RES_MODEL);
    assert_memory_equal(m.u.put.hash, hash, sizeof(hash));
    assert_int_equal(m.u.put.data.len, 27);
    assert_memory_equal(m.u.put.data.p, data, 27);
    assert_int_equal(((uintptr_t)m.u.put.data.p) % 8, 0);

    const char *attrs[] = {"kind", "classifier", "labels", "cat\ndog", "input", "224x224"};
    assert_int_equal(fkp_enc_register(&b, 3, 2, FUNK_ACCEL_RES_MODEL, hash, attrs, 3), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.reg.sid, 2);
    assert_int_equal(m.u.reg.attrs.n, 3);
    struct fkp_iter it;
    const char *k, *v;
    fkp_iter_init(&it, &m.u.reg.attrs);
    for (int i = 0; i < 3; i++) {
        assert_true(fkp_next_attr(&it, &k, &v));
        assert_string_equal(k, attrs[2 * i]);
        assert_string_equal(v, attrs[2 * i + 1]);
    }
    assert_false(fkp_next_attr(&it, &k, &v));
    assert_int_equal(fkp_enc_register(&b, 3, 2, FUNK_ACCEL_RES_DATA, hash, NULL, 0), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.reg.attrs.n, 0);
}

static void test_calls(void **st)
{
    (void)st;
    struct fkp_msg m;
    int32_t x = -5;
    double d = 2.5;
    funk_accel_arg in[3] = {FUNK_ACCEL_ARG_I32_OF(&x), FUNK_ACCEL_ARG_STRING_OF("hello"),
                            FUNK_ACCEL_ARG(FUNK_ACCEL_ARG_F64, &d, sizeof(d))};
    char o1[10];
    funk_accel_arg out[1] = {FUNK_ACCEL_ARG_BYTES_OF(o1, sizeof(o1))};
    for (int t = 0; t < 2; t++) {
        uint16_t type = t ? FKP_OP : FKP_EXEC;
        assert_int_equal(fkp_enc_call(&b, type, 4, 1, t ? 0 : 3, "sym", in, 3, out, 1), 0);
        assert_int_equal(decode(&m), 0);
        assert_int_equal(m.h.type, type);
        assert_int_equal(m.u.call.rid, t ? 0 : 3);
        assert_string_equal(m.u.call.name, "sym");
        assert_int_equal(m.u.call.in.n, 3);
        assert_int_equal(m.u.call.outs.n, 1);
        struct fkp_iter it;
        struct fkp_arg a;
        fkp_iter_init(&it, &m.u.call.in);
        for (int i = 0; i < 3; i++) {
            assert_true(fkp_next_arg(&it, &a));
            assert_int_equal(a.type, in[i].type);
            assert_int_equal(a.size, in[i].size);
            assert_memory_equal(a.data, in[i].data, in[i].size);
        }
        assert_false(fkp_next_arg(&it, &a));
        fkp_iter_init(&it, &m.u.call.outs);
        assert_true(fkp_next_outspec(&it, &a));
        assert_int_equal(a.type, FUNK_ACCEL_ARG_BYTES);
        assert_int_equal(a.size, sizeof(o1));
        assert_null(a.data);
    }
    /* Reply with outputs. */
    struct fkp_hdr req = {.type = FKP_EXEC, .id = 99};
    fkp_reply_begin(&b, &req, 7);
    fkp_put_u32(&b, 2);
    fkp_put_u32(&b, 0);
    fkp_put_u32(&b, 3);
    fkp_put_u32(&b, 0);
    fkp_put_bytes(&b, "abc", 3);
    fkp_put_u32(&b, 100); /* used beyond what came back: the capacity was too small */
    fkp_put_u32(&b, 0);
    fkp_put_bytes(&b, NULL, 0);
    assert_int_equal(fkp_end(&b), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.status, 7);
    assert_int_equal(m.h.id, 99);
    assert_int_equal(m.u.call_r.outs.n, 2);
    struct fkp_iter it;
    uint32_t used;
    struct fkp_bytes data;
    fkp_iter_init(&it, &m.u.call_r.outs);
    assert_true(fkp_next_out(&it, &used, &data));
    assert_int_equal(used, 3);
    assert_memory_equal(data.p, "abc", 3);
    assert_true(fkp_next_out(&it, &used, &data));
    assert_int_equal(used, 100);
    assert_int_equal(data.len, 0);
    assert_false(fkp_next_out(&it, &used, &data));
}

static void test_sgemm(void **st)
{
    (void)st;
    struct fkp_msg m;
    /* A is 2x3 stored with lda 4: packing drops the padding column. */
    float a[8] = {1, 2, 3, -1, 4, 5, 6, -1}, bm[6] = {1, 0, 0, 1, 1, 1}, c[4] = {9, 8, 7, 6};
    assert_int_equal(fkp_enc_sgemm(&b, 5, 1, 2, 2, 3, 1.5f, a, 4, bm, 2, 0.0f, NULL, 2), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.sgemm.m, 2);
    assert_int_equal(m.u.sgemm.n, 2);
    assert_int_equal(m.u.sgemm.k, 3);
    assert_true(m.u.sgemm.alpha == 1.5f);
    assert_int_equal(m.u.sgemm.a.len, 24);
    const float *pa = (const float *)m.u.sgemm.a.p;
    assert_true(pa[3] == 4.0f && pa[5] == 6.0f);
    assert_int_equal(m.u.sgemm.c.len, 0);
    assert_int_equal(fkp_enc_sgemm(&b, 5, 1, 2, 2, 3, 1.0f, a, 4, bm, 2, 0.5f, c, 2), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.sgemm.c.len, 16);
    assert_true(m.u.sgemm.beta == 0.5f);
    /* Encoder refuses inconsistent strides and sizes. */
    assert_int_equal(fkp_enc_sgemm(&b, 5, 1, 2, 2, 3, 1.0f, a, 2, bm, 2, 0.0f, NULL, 2), -EINVAL);
    assert_int_equal(fkp_enc_sgemm(&b, 5, 1, 0, 2, 3, 1.0f, a, 4, bm, 2, 0.0f, NULL, 2), -EINVAL);
    assert_int_equal(
        fkp_enc_sgemm(&b, 5, 1, 70000, 70000, 3, 1.0f, a, 4, bm, 70000, 0.0f, NULL, 70000),
        -EINVAL);
    /* Reply. */
    struct fkp_hdr req = {.type = FKP_SGEMM, .id = 5};
    fkp_reply_begin(&b, &req, 0);
    fkp_put_bytes(&b, c, sizeof(c));
    assert_int_equal(fkp_end(&b), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.sgemm_c.len, 16);
    assert_memory_equal(m.u.sgemm_c.p, c, 16);
}

static void test_images(void **st)
{
    (void)st;
    struct fkp_msg m;
    uint8_t img[13] = {0xff, 0xd8, 0xff};
    assert_int_equal(fkp_enc_image(&b, FKP_CLASSIFY, 6, 1, 0, 0, 5, img, sizeof(img)), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.image.max, 5);
    assert_int_equal(m.u.image.image.len, 13);
    assert_int_equal(fkp_enc_image(&b, FKP_DETECT, 6, 1, 2, 40, 5, img, sizeof(img)), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.image.min_pct, 40);
    assert_int_equal(m.u.image.rid, 2);

    funk_accel_label l[2] = {{"dog", 16, 0.5f},
                             {"a label exactly sixty-three characters long, "
                              "padded to the end.",
                              3, 0.25f}};
    assert_int_equal(strlen(l[1].label), 63);
    struct fkp_hdr req = {.type = FKP_CLASSIFY, .id = 6};
    fkp_reply_begin(&b, &req, 2);
    fkp_put_u32(&b, 2);
    fkp_put_u32(&b, 0);
    fkp_put_label(&b, &l[0]);
    fkp_put_label(&b, &l[1]);
    assert_int_equal(fkp_end(&b), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.u.results.n, 2);
    funk_accel_label got;
    fkp_get_label(&m.u.results, 1, &got);
    assert_string_equal(got.label, l[1].label);
    assert_int_equal(got.class_id, 3);
    assert_true(got.score == 0.25f);

    funk_accel_detection d = {{"car", 2, 0.75f}, 0.1f, 0.2f, 0.3f, 0.4f};
    req.type = FKP_DETECT;
    fkp_reply_begin(&b, &req, 1);
    fkp_put_u32(&b, 1);
    fkp_put_u32(&b, 0);
    fkp_put_detection(&b, &d);
    assert_int_equal(fkp_end(&b), 0);
    assert_int_equal(decode(&m), 0);
    funk_accel_detection gd;
    fkp_get_detection(&m.u.results, 0, &gd);
    assert_string_equal(gd.label.label, "car");
    assert_true(gd.h == 0.4f && gd.x == 0.1f);
}

static void test_replies(void **st)
{
    (void)st;
    struct fkp_msg m;
    assert_int_equal(fkp_enc_error(&b, FKP_NOOP, 8, -EBADF), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.status, -EBADF);
    assert_true(m.h.flags & FKP_F_ERROR);
    /* A status that is not negative can't be an error reply: becomes -EPROTO. */
    assert_int_equal(fkp_enc_error(&b, FKP_NOOP, 8, 5), 0);
    assert_int_equal(decode(&m), 0);
    assert_int_equal(m.status, -EPROTO);

    struct fkp_hdr req = {.type = FKP_PLUGINS, .id = 1};
    fkp_reply_begin(&b, &req, 1);
    fkp_put_u32(&b, 1);
    fkp_put_u32(&b, 0);
    fkp_put_i32(&b, 100);
    fkp_put_u32(&b, 0x1f);
    fkp_put_u32(&b, 1);
    fkp_put_u32(&b, 0);
    fkp_put_string(&b, "cpu");
    fkp_put_string(&b, "0.1.0");
    fkp_put_string(&b, "OpenBLAS + OpenCV");
    assert_int_equal(fkp_end(&b), 0);
    assert_int_equal(decode(&m), 0);
    struct fkp_iter it;
    struct fkp_plugin p;
    fkp_iter_init(&it, &m.u.plugins);
    assert_true(fkp_next_plugin(&it, &p));
    assert_string_equal(p.name, "cpu");
    assert_string_equal(p.description, "OpenBLAS + OpenCV");
    assert_int_equal(p.priority, 100);
    assert_int_equal(p.ops, 0x1f);

    struct fkp_stats s = {1, 2, 3, 4, 5, 6, 7, 8};
    req.type = FKP_STATS;
    fkp_reply_begin(&b, &req, 0);
    fkp_put_stats(&b, &s);
    assert_int_equal(fkp_end(&b), 0);
    assert_int_equal(decode(&m), 0);
    assert_memory_equal(&m.u.stats, &s, sizeof(s));

    uint16_t with_value[] = {FKP_SESSION_NEW, FKP_RES_HAVE, FKP_REGISTER};
    for (int i = 0; i < 3; i++) {
        req.type = with_value[i];
        fkp_reply_begin(&b, &req, 0);
        fkp_put_u32(&b, 1);
        fkp_put_u32(&b, 0);
        assert_int_equal(fkp_end(&b), 0);
        assert_int_equal(decode(&m), 0);
        assert_int_equal(m.u.rid, 1);
    }
}

/* ---- Malformed frames ---------------------------------------------------------------------- */

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void test_bad_headers(void **st)
{
    (void)st;
    struct fkp_hdr h;
    struct fkp_msg m;
    assert_int_equal(fkp_enc_sid(&b, FKP_NOOP, 1, 1), 0);
    uint8_t raw[FKP_HDR_SIZE];
    memcpy(raw, b.p, sizeof(raw));
    assert_int_equal(fkp_decode_header(raw, 0, &h), 0);

    raw[0] ^= 0xff; /* magic */
    assert_int_equal(fkp_decode_header(raw, 0, &h), -EPROTO);
    raw[0] ^= 0xff;
    raw[4] = 2; /* version */
    assert_int_equal(fkp_decode_header(raw, 0, &h), -EPROTONOSUPPORT);
    raw[4] = 1;
    put_le32(raw + 8, 0x80); /* unknown flag */
    assert_int_equal(fkp_decode_header(raw, 0, &h), -EPROTO);
    put_le32(raw + 8, FKP_F_ERROR); /* error without reply */
    assert_int_equal(fkp_decode_header(raw, 0, &h), -EPROTO);
    put_le32(raw + 8, 0);
    put_le32(raw + 12, FKP_MAX_FRAME_DEFAULT + 1); /* oversized */
    assert_int_equal(fkp_decode_header(raw, 0, &h), -EMSGSIZE);
    put_le32(raw + 12, 4096);
    assert_int_equal(fkp_decode_header(raw, 4095, &h), -EMSGSIZE);
    assert_int_equal(fkp_decode_header(raw, 4096, &h), 0);

    /* Unknown types: -ENOSYS (framing is intact, the peer can answer and go on). */
    h.len = 0;
    h.type = 0;
    assert_int_equal(fkp_decode(&h, NULL, &m), -ENOSYS);
    h.type = FKP_TYPE_MAX;
    assert_int_equal(fkp_decode(&h, NULL, &m), -ENOSYS);
    h.type = 0xffff;
    assert_int_equal(fkp_decode(&h, NULL, &m), -ENOSYS);
}

/* Re-decodes b's frame with the payload changed by fn; expects -EBADMSG. */
static void expect_bad(void (*fn)(uint8_t *p, uint32_t *len), const char *what)
{
    struct fkp_hdr h;
    assert_int_equal(fkp_decode_header(b.p, 0, &h), 0);
    uint8_t *p = NULL;
    assert_int_equal(posix_memalign((void **)&p, 16, h.len + 64), 0);
    memcpy(p, b.p + FKP_HDR_SIZE, h.len);
    fn(p, &h.len);
    struct fkp_msg m;
    int rc = fkp_decode(&h, p, &m);
    if (rc != -EBADMSG)
        fail_msg("%s: expected -EBADMSG, got %d", what, rc);
    free(p);
}

static void truncate1(uint8_t *p, uint32_t *len)
{
    (void)p;
    (*len)--;
}
static void truncate8(uint8_t *p, uint32_t *len)
{
    (void)p;
    *len -= 8;
}
static void trailing(uint8_t *p, uint32_t *len)
{
    memset(p + *len, 0, 8);
    *len += 8;
}
static void empty(uint8_t *p, uint32_t *len)
{
    (void)p;
    *len = 0;
}

static void test_truncated_and_trailing(void **st)
{
    (void)st;
    int32_t x = 1;
    funk_accel_arg in[1] = {FUNK_ACCEL_ARG_I32_OF(&x)};
    float a[4] = {1, 2, 3, 4};
    const char *attrs[] = {"k", "v"};
    /* Every request type with a body: each must refuse truncation and trailing bytes. */
    for (int t = 0; t < 9; t++) {
        switch (t) {
        case 0:
            fkp_enc_sid(&b, FKP_NOOP, 1, 1);
            break;
        case 1:
            fkp_enc_have(&b, 1, hash);
            break;
        case 2:
            fkp_enc_put(&b, 1, 1, hash, "xyz", 3);
            break;
        case 3:
            fkp_enc_register(&b, 1, 1, 1, hash, attrs, 1);
            break;
        case 4:
            fkp_enc_unregister(&b, 1, 1, 1);
            break;
        case 5:
            fkp_enc_call(&b, FKP_EXEC, 1, 1, 1, "f", in, 1, in, 1);
            break;
        case 6:
            fkp_enc_sgemm(&b, 1, 1, 2, 2, 2, 1.0f, a, 2, a, 2, 0.0f, NULL, 2);
            break;
        case 7:
            fkp_enc_image(&b, FKP_CLASSIFY, 1, 1, 0, 0, 5, "img", 3);
            break;
        case 8:
            fkp_enc_call(&b, FKP_OP, 1, 1, 0, "echo", in, 1, in, 1);
            break;
        }
        assert_int_equal(b.err, 0);
        expect_bad(truncate1, "truncated by one byte");
        expect_bad(truncate8, "truncated by 8 bytes");
        expect_bad(trailing, "trailing bytes");
        expect_bad(empty, "empty payload");
    }
    /* Bodiless requests refuse any payload. */
    fkp_enc_simple(&b, FKP_STATS, 1);
    expect_bad(trailing, "stats with a payload");
}

/* Payload offsets of the fields used below (see proto.c's layouts). */
static void put_bad_hash_type(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p, 9); /* resource type out of range */
}
static void put_bad_pad(uint8_t *p, uint32_t *len)
{
    (void)len;
    p[8 + 32 + 8 + 3] = 1; /* padding byte after the 3 data bytes */
}
static void put_len_huge(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 8 + 32, 0xfffffff0u); /* data length past the end (and overflowing) */
}

static void test_bad_fields(void **st)
{
    (void)st;
    fkp_enc_put(&b, 1, 1, hash, "xyz", 3);
    expect_bad(put_bad_hash_type, "resource type 9");
    expect_bad(put_bad_pad, "non-zero padding");
    expect_bad(put_len_huge, "length past the end");
}

/* EXEC layout: sid, rid, string(u32 len, u32 0, "f\0" + 6 pad), u32 n_in, u32 0, args... */
static void str_no_nul(uint8_t *p, uint32_t *len)
{
    (void)len;
    p[16 + 1] = 'x'; /* "fx": no NUL inside the declared length */
}
static void str_interior_nul(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 8, 2);
    p[16] = 0; /* "\0\0" */
}
static void str_empty(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 8, 0);
}
static void count_huge(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 24, 0xffffffffu); /* n_in */
}
static void count_over_max(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 24, FKP_MAX_ARGS + 1);
}
static void count_more(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 24, 2); /* claims 2 args, holds 1 */
}
static void arg_bad_type(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 32, 99);
}
static void arg_flags(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 36, 1);
}
static void arg_size_mismatch(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 40, 8); /* size says 8, data holds 4 */
}
static void arg_no_data(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 44, 0); /* an input without data */
}

static void test_bad_call(void **st)
{
    (void)st;
    int32_t x = 1;
    funk_accel_arg in[1] = {FUNK_ACCEL_ARG_I32_OF(&x)};
    fkp_enc_call(&b, FKP_EXEC, 1, 1, 1, "f", in, 1, NULL, 0);
    struct fkp_msg m;
    assert_int_equal(decode(&m), 0);
    expect_bad(str_no_nul, "string without NUL");
    expect_bad(str_interior_nul, "string with an interior NUL");
    expect_bad(str_empty, "empty string field");
    expect_bad(count_huge, "count 2^32-1");
    expect_bad(count_over_max, "count over the maximum");
    expect_bad(count_more, "count beyond the records");
    expect_bad(arg_bad_type, "argument type 99");
    expect_bad(arg_flags, "argument flags");
    expect_bad(arg_size_mismatch, "argument size vs data");
    expect_bad(arg_no_data, "input without data");
}

/* SGEMM layout: sid m n k alpha beta, then A bytes at 24. */
static void sg_m_zero(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 4, 0);
}
static void sg_m_neg(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 4, 0xffffffffu);
}
static void sg_dims_overflow(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 4, 0x40000000u); /* m*k*4 overflows 32 bits: must not match by wrap-around */
    put_le32(p + 12, 0x40000000u);
}
static void sg_beta_without_c(uint8_t *p, uint32_t *len)
{
    (void)len;
    float one = 1.0f;
    memcpy(p + 20, &one, 4);
}

static void test_bad_sgemm(void **st)
{
    (void)st;
    float a[4] = {1, 2, 3, 4};
    fkp_enc_sgemm(&b, 1, 1, 2, 2, 2, 1.0f, a, 2, a, 2, 0.0f, NULL, 2);
    expect_bad(sg_m_zero, "m = 0");
    expect_bad(sg_m_neg, "m = -1");
    expect_bad(sg_dims_overflow, "dimensions overflowing");
    expect_bad(sg_beta_without_c, "beta != 0 without C");
}

/* CLASSIFY layout: sid rid min_pct max, image. */
static void img_max_zero(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 12, 0);
}
static void img_max_huge(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 12, FKP_MAX_RESULTS + 1);
}
static void img_pct(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 8, 101);
}
static void img_empty(uint8_t *p, uint32_t *len)
{
    put_le32(p + 16, 0);
    *len = 24;
}

static void test_bad_image(void **st)
{
    (void)st;
    fkp_enc_image(&b, FKP_DETECT, 1, 1, 0, 0, 5, "img", 3);
    expect_bad(img_max_zero, "max 0");
    expect_bad(img_max_huge, "max over the limit");
    expect_bad(img_pct, "threshold 101%");
    expect_bad(img_empty, "empty image");
}

/* Replies: status/flag agreement, labels without NUL, counts. */
static void rep_flag_mismatch(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p, (uint32_t)-5); /* negative status without the ERROR flag */
}
static void rep_label_no_nul(uint8_t *p, uint32_t *len)
{
    (void)len;
    memset(p + 16 + 8, 'A', FUNK_ACCEL_LABEL_MAX);
}
static void rep_count_huge(uint8_t *p, uint32_t *len)
{
    (void)len;
    put_le32(p + 8, 0x10000000u);
}

static void test_bad_replies(void **st)
{
    (void)st;
    funk_accel_label l = {"dog", 1, 0.5f};
    struct fkp_hdr req = {.type = FKP_CLASSIFY, .id = 6};
    fkp_reply_begin(&b, &req, 1);
    fkp_put_u32(&b, 1);
    fkp_put_u32(&b, 0);
    fkp_put_label(&b, &l);
    assert_int_equal(fkp_end(&b), 0);
    expect_bad(rep_flag_mismatch, "negative status, no error flag");
    expect_bad(rep_label_no_nul, "label without NUL");
    expect_bad(rep_count_huge, "result count");
    expect_bad(truncate1, "truncated reply");
    /* An error reply carries nothing after its status. */
    fkp_enc_error(&b, FKP_NOOP, 1, -EIO);
    expect_bad(trailing, "error reply with a body");
    /* A success flagged as error. */
    fkp_enc_error(&b, FKP_NOOP, 1, -EIO);
    struct fkp_hdr h;
    assert_int_equal(fkp_decode_header(b.p, 0, &h), 0);
    uint8_t *p = NULL;
    assert_int_equal(posix_memalign((void **)&p, 16, 16), 0);
    memcpy(p, b.p + FKP_HDR_SIZE, h.len);
    put_le32(p, 0);
    struct fkp_msg m;
    assert_int_equal(fkp_decode(&h, p, &m), -EBADMSG);
    free(p);
}

static void test_encoder_limits(void **st)
{
    (void)st;
    struct fkp_buf small = {.max = 64};
    char big[100] = {0};
    assert_int_equal(fkp_enc_put(&small, 1, 1, hash, big, sizeof(big)), -EMSGSIZE);
    assert_int_equal(fkp_enc_put(&small, 1, 1, hash, big, 8), 0);
    fkp_buf_free(&small);
    const char *attrs[2 * (FKP_MAX_ATTRS + 1)];
    for (size_t i = 0; i < 2 * (FKP_MAX_ATTRS + 1); i++)
        attrs[i] = "x";
    assert_int_equal(fkp_enc_register(&b, 1, 1, 1, hash, attrs, FKP_MAX_ATTRS + 1), -E2BIG);
    assert_int_equal(fkp_enc_call(&b, FKP_OP, 1, 1, 0, NULL, NULL, 0, NULL, 0), -EINVAL);
}

static void test_addresses(void **st)
{
    (void)st;
    struct fkp_addr a;
    const char *why;
    assert_int_equal(fkp_addr_parse("unix:///run/funk/accel.sock", &a, &why), 0);
    assert_int_equal(a.family, 1 /* AF_UNIX */);
    assert_int_equal(fkp_addr_parse("unix:rel.sock", &a, &why), 0);
    assert_int_equal(fkp_addr_parse("vsock://2:5000", &a, &why), 0);
    assert_int_equal(a.family, 40 /* AF_VSOCK */);
    assert_int_equal(fkp_addr_parse("vsock://4294967295:1", &a, &why), 0);
    assert_int_equal(fkp_addr_parse("tcp://127.0.0.1:7000", &a, &why), 0);
    assert_int_equal(a.family, 2 /* AF_INET */);
    assert_int_equal(fkp_addr_parse("tcp://localhost:1", &a, &why), 0);
    assert_int_equal(fkp_addr_parse("tcp://[::1]:7000", &a, &why), 0);
    assert_int_equal(a.family, 10 /* AF_INET6 */);
    const char *bad[] = {"",
                         "unix://",
                         "unix:",
                         "vsock://2",
                         "vsock://x:1",
                         "vsock://2:",
                         "vsock://4294967296:1",
                         "tcp://127.0.0.1",
                         "tcp://127.0.0.1:0",
                         "tcp://127.0.0.1:65536",
                         "tcp://127.0.0.1:80x",
                         "tcp://host.example:80",
                         "tcp://[::1:80",
                         "tcp://:80",
                         "http://127.0.0.1:80",
                         "unix:///a/very/long/path/that/does/not/fit/into/sun_path/because/it/is/"
                         "longer/than/one/hundred/and/seven/bytes.sock"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        if (fkp_addr_parse(bad[i], &a, &why) != -EINVAL)
            fail_msg("address '%s' was accepted", bad[i]);
        assert_non_null(why);
    }
    assert_int_equal(fkp_addr_parse(NULL, &a, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_requests), cmocka_unit_test(test_resources),
        cmocka_unit_test(test_calls),           cmocka_unit_test(test_sgemm),
        cmocka_unit_test(test_images),          cmocka_unit_test(test_replies),
        cmocka_unit_test(test_bad_headers),     cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_bad_fields),      cmocka_unit_test(test_bad_call),
        cmocka_unit_test(test_bad_sgemm),       cmocka_unit_test(test_bad_image),
        cmocka_unit_test(test_bad_replies),     cmocka_unit_test(test_encoder_limits),
        cmocka_unit_test(test_addresses),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    teardown_all();
    return rc;
}
