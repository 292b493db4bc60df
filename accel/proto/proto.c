/* SPDX-License-Identifier: Apache-2.0 */
/* funk accel wire protocol: the encoder and the one validating decoder (agent, rpc, monitor). */
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- Little-endian access ---------------------------------------------------------------------
 */

static inline uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t ld64(const uint8_t *p)
{
    return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

static inline void st32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline float f32_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static inline uint32_t pad8(uint32_t n)
{
    return (8u - (n & 7u)) & 7u;
}

static const char *const type_names[FKP_TYPE_MAX] = {
    [FKP_SESSION_NEW] = "session_new",
    [FKP_SESSION_DELETE] = "session_delete",
    [FKP_RES_HAVE] = "resource_have",
    [FKP_RES_PUT] = "resource_put",
    [FKP_REGISTER] = "register",
    [FKP_UNREGISTER] = "unregister",
    [FKP_NOOP] = "noop",
    [FKP_EXEC] = "exec",
    [FKP_SGEMM] = "sgemm",
    [FKP_CLASSIFY] = "classify",
    [FKP_DETECT] = "detect",
    [FKP_OP] = "op",
    [FKP_PLUGINS] = "plugins",
    [FKP_STATS] = "stats",
};

const char *fkp_type_name(uint32_t type)
{
    return type > 0 && type < FKP_TYPE_MAX ? type_names[type] : "unknown";
}

/* ---- Decoding -----------------------------------------------------------------------------------
 */

int fkp_decode_header(const uint8_t raw[FKP_HDR_SIZE], uint32_t max_payload, struct fkp_hdr *h)
{
    h->magic = ld32(raw);
    h->version = (uint16_t)(raw[4] | raw[5] << 8);
    h->type = (uint16_t)(raw[6] | raw[7] << 8);
    h->flags = ld32(raw + 8);
    h->len = ld32(raw + 12);
    h->id = ld64(raw + 16);
    if (h->magic != FKP_MAGIC || (h->flags & ~FKP_F_KNOWN) != 0)
        return -EPROTO;
    if ((h->flags & FKP_F_ERROR) && !(h->flags & FKP_F_REPLY))
        return -EPROTO;
    if (max_payload == 0 || max_payload > FKP_MAX_FRAME_LIMIT)
        max_payload = FKP_MAX_FRAME_DEFAULT;
    if (h->len > max_payload)
        return -EMSGSIZE;
    if (h->version != FKP_VERSION)
        return -EPROTONOSUPPORT;
    return 0;
}

/* A bounds-checked cursor over a payload. Any failure makes ok false and further reads no-ops. */
struct rd {
    const uint8_t *p;
    uint32_t len, pos;
    bool ok;
};

static inline bool need(struct rd *r, uint32_t n)
{
    if (!r->ok || n > r->len - r->pos) {
        r->ok = false;
        return false;
    }
    return true;
}

static uint32_t r_u32(struct rd *r)
{
    if (!need(r, 4))
        return 0;
    uint32_t v = ld32(r->p + r->pos);
    r->pos += 4;
    return v;
}

static uint64_t r_u64(struct rd *r)
{
    if (!need(r, 8))
        return 0;
    uint64_t v = ld64(r->p + r->pos);
    r->pos += 8;
    return v;
}

static const uint8_t *r_raw(struct rd *r, uint32_t n)
{
    if (!need(r, n))
        return NULL;
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

/* Skips zero padding up to a multiple of 8; non-zero padding is malformed. */
static void r_pad(struct rd *r, uint32_t n)
{
    uint32_t k = pad8(n);
    const uint8_t *p = r_raw(r, k);
    for (uint32_t i = 0; p != NULL && i < k; i++)
        if (p[i] != 0)
            r->ok = false;
}

static struct fkp_bytes r_bytes(struct rd *r)
{
    struct fkp_bytes b = {NULL, 0};
    uint32_t n = r_u32(r);
    r_u32(r); /* reserved: keeps the data 8-aligned */
    b.p = r_raw(r, n);
    b.len = b.p ? n : 0;
    r_pad(r, n);
    return b;
}

/* A string: its length counts exactly one NUL, at the end. */
static const char *r_string(struct rd *r)
{
    struct fkp_bytes b = r_bytes(r);
    if (!r->ok)
        return NULL;
    if (b.len == 0 || b.len > FKP_MAX_STRING || b.p[b.len - 1] != '\0' ||
        memchr(b.p, '\0', b.len - 1) != NULL) {
        r->ok = false;
        return NULL;
    }
    return (const char *)b.p;
}

static bool arg_type_ok(uint32_t t)
{
    return t >= FUNK_ACCEL_ARG_BYTES && t <= FUNK_ACCEL_ARG_F32_ARRAY;
}

/* An argument record: u32 type, u32 flags (0), u32 size, u32 has_data, then bytes when has_data. */
static void r_arg(struct rd *r, struct fkp_arg *a, bool with_data)
{
    a->type = r_u32(r);
    uint32_t flags = r_u32(r);
    a->size = r_u32(r);
    uint32_t has = r_u32(r);
    a->data = NULL;
    if (!r->ok)
        return;
    if (!arg_type_ok(a->type) || flags != 0 || has != (with_data ? 1u : 0u)) {
        r->ok = false;
        return;
    }
    if (with_data) {
        struct fkp_bytes b = r_bytes(r);
        if (r->ok && b.len != a->size)
            r->ok = false;
        a->data = b.p;
    }
}

/* Reads a count-prefixed list whose records are checked by each(); fills l. */
typedef void (*rec_fn)(struct rd *r);

static void rec_attr(struct rd *r)
{
    r_string(r);
    r_string(r);
}
static void rec_in(struct rd *r)
{
    struct fkp_arg a;
    r_arg(r, &a, true);
}
static void rec_outspec(struct rd *r)
{
    struct fkp_arg a;
    r_arg(r, &a, false);
}
static void rec_out(struct rd *r)
{
    r_u32(r); /* used */
    r_u32(r); /* reserved */
    r_bytes(r);
}
static void rec_plugin(struct rd *r)
{
    r_u32(r); /* priority */
    r_u32(r); /* ops */
    uint32_t avail = r_u32(r);
    r_u32(r);
    if (avail > 1)
        r->ok = false;
    r_string(r);
    r_string(r);
    r_string(r);
}

static struct fkp_list r_list(struct rd *r, uint32_t max, rec_fn each)
{
    struct fkp_list l = {NULL, 0, 0};
    uint32_t n = r_u32(r);
    r_u32(r); /* reserved */
    if (!r->ok || n > max) {
        r->ok = false;
        return l;
    }
    uint32_t start = r->pos;
    for (uint32_t i = 0; i < n && r->ok; i++)
        each(r);
    if (!r->ok)
        return l;
    l.p = r->p + start;
    l.n = n;
    l.len = r->pos - start;
    return l;
}

/* Fixed-size records: count, then n * size bytes; labels must hold a NUL. */
static struct fkp_list r_fixed(struct rd *r, uint32_t size)
{
    struct fkp_list l = {NULL, 0, 0};
    uint32_t n = r_u32(r);
    r_u32(r);
    if (!r->ok || n > FKP_MAX_RESULTS) {
        r->ok = false;
        return l;
    }
    const uint8_t *p = r_raw(r, n * size); /* n <= 4096: no overflow */
    if (p == NULL)
        return l;
    for (uint32_t i = 0; i < n; i++)
        if (memchr(p + (size_t)i * size + 8, '\0', FUNK_ACCEL_LABEL_MAX) == NULL) {
            r->ok = false;
            return l;
        }
    l.p = p;
    l.n = n;
    l.len = n * size;
    return l;
}

static bool sgemm_dims_ok(struct fkp_msg *m)
{
    int32_t M = m->u.sgemm.m, N = m->u.sgemm.n, K = m->u.sgemm.k;
    if (M <= 0 || N <= 0 || K <= 0)
        return false;
    uint64_t a = (uint64_t)M * (uint64_t)K * 4u, b = (uint64_t)K * (uint64_t)N * 4u,
             c = (uint64_t)M * (uint64_t)N * 4u;
    if (a != m->u.sgemm.a.len || b != m->u.sgemm.b.len)
        return false;
    if (m->u.sgemm.beta == 0.0f)
        return m->u.sgemm.c.len == 0;
    return c == m->u.sgemm.c.len;
}

static void decode_request(struct rd *r, struct fkp_msg *m)
{
    switch (m->h.type) {
    case FKP_SESSION_NEW:
    case FKP_PLUGINS:
    case FKP_STATS:
        break;
    case FKP_SESSION_DELETE:
    case FKP_NOOP:
        m->u.sess.sid = r_u32(r);
        r_u32(r);
        break;
    case FKP_RES_HAVE:
        m->u.have.hash = r_raw(r, FUNK_ACCEL_HASH_SIZE);
        break;
    case FKP_RES_PUT:
        m->u.put.type = r_u32(r);
        r_u32(r);
        m->u.put.hash = r_raw(r, FUNK_ACCEL_HASH_SIZE);
        m->u.put.data = r_bytes(r);
        if (r->ok &&
            (m->u.put.type < FUNK_ACCEL_RES_MODEL || m->u.put.type > FUNK_ACCEL_RES_LIBRARY))
            r->ok = false;
        break;
    case FKP_REGISTER:
        m->u.reg.sid = r_u32(r);
        m->u.reg.type = r_u32(r);
        m->u.reg.hash = r_raw(r, FUNK_ACCEL_HASH_SIZE);
        m->u.reg.attrs = r_list(r, FKP_MAX_ATTRS, rec_attr);
        if (r->ok &&
            (m->u.reg.type < FUNK_ACCEL_RES_MODEL || m->u.reg.type > FUNK_ACCEL_RES_LIBRARY))
            r->ok = false;
        break;
    case FKP_UNREGISTER:
        m->u.unreg.sid = r_u32(r);
        m->u.unreg.rid = r_u32(r);
        break;
    case FKP_EXEC:
    case FKP_OP:
        m->u.call.sid = r_u32(r);
        m->u.call.rid = r_u32(r);
        m->u.call.name = r_string(r);
        m->u.call.in = r_list(r, FKP_MAX_ARGS, rec_in);
        m->u.call.outs = r_list(r, FKP_MAX_ARGS, rec_outspec);
        break;
    case FKP_SGEMM:
        m->u.sgemm.sid = r_u32(r);
        m->u.sgemm.m = (int32_t)r_u32(r);
        m->u.sgemm.n = (int32_t)r_u32(r);
        m->u.sgemm.k = (int32_t)r_u32(r);
        m->u.sgemm.alpha = f32_of(r_u32(r));
        m->u.sgemm.beta = f32_of(r_u32(r));
        m->u.sgemm.a = r_bytes(r);
        m->u.sgemm.b = r_bytes(r);
        m->u.sgemm.c = r_bytes(r);
        if (r->ok && !sgemm_dims_ok(m))
            r->ok = false;
        break;
    case FKP_CLASSIFY:
    case FKP_DETECT:
        m->u.image.sid = r_u32(r);
        m->u.image.rid = r_u32(r);
        m->u.image.min_pct = r_u32(r);
        m->u.image.max = r_u32(r);
        m->u.image.image = r_bytes(r);
        if (r->ok &&
            (m->u.image.image.len == 0 || m->u.image.max == 0 || m->u.image.max > FKP_MAX_RESULTS ||
             m->u.image.min_pct > 100 || (m->h.type == FKP_CLASSIFY && m->u.image.min_pct != 0)))
            r->ok = false;
        break;
    default:
        break;
    }
}

static void decode_reply(struct rd *r, struct fkp_msg *m)
{
    m->status = (int32_t)r_u32(r);
    r_u32(r); /* reserved */
    if (!r->ok)
        return;
    bool err = (m->h.flags & FKP_F_ERROR) != 0;
    if (err != (m->status < 0)) {
        r->ok = false;
        return;
    }
    if (err)
        return; /* nothing follows an error status */
    switch (m->h.type) {
    case FKP_SESSION_NEW:
        m->u.sess.sid = r_u32(r);
        r_u32(r);
        break;
    case FKP_RES_HAVE:
        m->u.present = r_u32(r);
        r_u32(r);
        if (m->u.present > 1)
            r->ok = false;
        break;
    case FKP_REGISTER:
        m->u.rid = r_u32(r);
        r_u32(r);
        break;
    case FKP_EXEC:
    case FKP_OP:
        m->u.call_r.outs = r_list(r, FKP_MAX_ARGS, rec_out);
        break;
    case FKP_SGEMM:
        m->u.sgemm_c = r_bytes(r);
        break;
    case FKP_CLASSIFY:
        m->u.results = r_fixed(r, FKP_LABEL_SIZE);
        break;
    case FKP_DETECT:
        m->u.results = r_fixed(r, FKP_DETECTION_SIZE);
        break;
    case FKP_PLUGINS:
        m->u.plugins = r_list(r, FKP_MAX_PLUGINS, rec_plugin);
        break;
    case FKP_STATS:
        m->u.stats.connections = r_u64(r);
        m->u.stats.sessions = r_u64(r);
        m->u.stats.registrations = r_u64(r);
        m->u.stats.cache_entries = r_u64(r);
        m->u.stats.cache_bytes = r_u64(r);
        m->u.stats.frames = r_u64(r);
        m->u.stats.bad_frames = r_u64(r);
        m->u.stats.connections_total = r_u64(r);
        break;
    default: /* SESSION_DELETE, RES_PUT, UNREGISTER, NOOP: the status alone */
        break;
    }
}

int fkp_decode(const struct fkp_hdr *h, const uint8_t *payload, struct fkp_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->h = *h;
    if (h->type == 0 || h->type >= FKP_TYPE_MAX)
        return -ENOSYS;
    if (h->len != 0 && payload == NULL)
        return -EINVAL;
    struct rd r = {payload, h->len, 0, true};
    if (h->flags & FKP_F_REPLY)
        decode_reply(&r, m);
    else
        decode_request(&r, m);
    if (!r.ok || r.pos != r.len)
        return -EBADMSG;
    return 0;
}

/* ---- Iterators (over lists fkp_decode validated: reads cannot fail) ---------------------------
 */

void fkp_iter_init(struct fkp_iter *it, const struct fkp_list *l)
{
    it->p = l->p;
    it->len = l->len;
    it->pos = 0;
    it->i = 0;
    it->n = l->n;
}

static struct rd it_rd(const struct fkp_iter *it)
{
    return (struct rd){it->p, it->len, it->pos, true};
}

bool fkp_next_attr(struct fkp_iter *it, const char **key, const char **value)
{
    if (it->i >= it->n)
        return false;
    struct rd r = it_rd(it);
    *key = r_string(&r);
    *value = r_string(&r);
    it->pos = r.pos;
    it->i++;
    return r.ok;
}

bool fkp_next_arg(struct fkp_iter *it, struct fkp_arg *a)
{
    if (it->i >= it->n)
        return false;
    struct rd r = it_rd(it);
    r_arg(&r, a, true);
    it->pos = r.pos;
    it->i++;
    return r.ok;
}

bool fkp_next_outspec(struct fkp_iter *it, struct fkp_arg *a)
{
    if (it->i >= it->n)
        return false;
    struct rd r = it_rd(it);
    r_arg(&r, a, false);
    it->pos = r.pos;
    it->i++;
    return r.ok;
}

bool fkp_next_out(struct fkp_iter *it, uint32_t *used, struct fkp_bytes *data)
{
    if (it->i >= it->n)
        return false;
    struct rd r = it_rd(it);
    *used = r_u32(&r);
    r_u32(&r);
    *data = r_bytes(&r);
    it->pos = r.pos;
    it->i++;
    return r.ok;
}

bool fkp_next_plugin(struct fkp_iter *it, struct fkp_plugin *p)
{
    if (it->i >= it->n)
        return false;
    struct rd r = it_rd(it);
    p->priority = (int32_t)r_u32(&r);
    p->ops = r_u32(&r);
    p->available = r_u32(&r);
    r_u32(&r);
    p->name = r_string(&r);
    p->version = r_string(&r);
    p->description = r_string(&r);
    it->pos = r.pos;
    it->i++;
    return r.ok;
}

void fkp_get_label(const struct fkp_list *l, uint32_t i, funk_accel_label *out)
{
    const uint8_t *p = l->p + (size_t)i * FKP_LABEL_SIZE;
    out->class_id = (int32_t)ld32(p);
    out->score = f32_of(ld32(p + 4));
    memcpy(out->label, p + 8, FUNK_ACCEL_LABEL_MAX);
}

void fkp_get_detection(const struct fkp_list *l, uint32_t i, funk_accel_detection *out)
{
    const uint8_t *p = l->p + (size_t)i * FKP_DETECTION_SIZE;
    out->label.class_id = (int32_t)ld32(p);
    out->label.score = f32_of(ld32(p + 4));
    memcpy(out->label.label, p + 8, FUNK_ACCEL_LABEL_MAX);
    p += FKP_LABEL_SIZE;
    out->x = f32_of(ld32(p));
    out->y = f32_of(ld32(p + 4));
    out->w = f32_of(ld32(p + 8));
    out->h = f32_of(ld32(p + 12));
}

/* ---- Encoding ---------------------------------------------------------------------------------
 */

void fkp_buf_free(struct fkp_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static size_t buf_max(const struct fkp_buf *b)
{
    return b->max ? b->max : FKP_MAX_FRAME_DEFAULT;
}

/* Room for n more bytes; returns where they go or NULL (error recorded). */
static uint8_t *grow(struct fkp_buf *b, size_t n)
{
    if (b->err)
        return NULL;
    if (n > buf_max(b) + FKP_HDR_SIZE - b->len) {
        b->err = -EMSGSIZE;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            b->err = -ENOMEM;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

void fkp_begin(struct fkp_buf *b, uint16_t type, uint32_t flags, uint64_t id)
{
    b->len = 0;
    b->err = 0;
    uint8_t *p = grow(b, FKP_HDR_SIZE);
    if (p == NULL)
        return;
    st32(p, FKP_MAGIC);
    p[4] = (uint8_t)FKP_VERSION;
    p[5] = (uint8_t)(FKP_VERSION >> 8);
    p[6] = (uint8_t)type;
    p[7] = (uint8_t)(type >> 8);
    st32(p + 8, flags);
    st32(p + 12, 0);
    st32(p + 16, (uint32_t)id);
    st32(p + 20, (uint32_t)(id >> 32));
}

int fkp_end(struct fkp_buf *b)
{
    if (b->err)
        return b->err;
    st32(b->p + 12, (uint32_t)(b->len - FKP_HDR_SIZE));
    return 0;
}

void fkp_put_u32(struct fkp_buf *b, uint32_t v)
{
    uint8_t *p = grow(b, 4);
    if (p)
        st32(p, v);
}

void fkp_put_i32(struct fkp_buf *b, int32_t v)
{
    fkp_put_u32(b, (uint32_t)v);
}

void fkp_put_u64(struct fkp_buf *b, uint64_t v)
{
    fkp_put_u32(b, (uint32_t)v);
    fkp_put_u32(b, (uint32_t)(v >> 32));
}

void fkp_put_f32(struct fkp_buf *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    fkp_put_u32(b, u);
}

void fkp_put_raw(struct fkp_buf *b, const void *src, size_t n)
{
    uint8_t *p = grow(b, n);
    if (p && n)
        memcpy(p, src, n);
}

void *fkp_put_bytes_reserve(struct fkp_buf *b, size_t n)
{
    if (n > UINT32_MAX) {
        if (!b->err)
            b->err = -EMSGSIZE;
        return NULL;
    }
    fkp_put_u32(b, (uint32_t)n);
    fkp_put_u32(b, 0);
    size_t k = pad8((uint32_t)n);
    uint8_t *p = grow(b, n + k);
    if (p == NULL)
        return NULL;
    memset(p + n, 0, k);
    return p;
}

void fkp_put_bytes(struct fkp_buf *b, const void *src, size_t n)
{
    void *p = fkp_put_bytes_reserve(b, n);
    if (p && n)
        memcpy(p, src, n);
}

void fkp_put_string(struct fkp_buf *b, const char *s)
{
    if (s == NULL) {
        if (!b->err)
            b->err = -EINVAL;
        return;
    }
    size_t n = strlen(s) + 1;
    if (n > FKP_MAX_STRING) {
        if (!b->err)
            b->err = -ENAMETOOLONG;
        return;
    }
    fkp_put_bytes(b, s, n);
}

int fkp_enc_simple(struct fkp_buf *b, uint16_t type, uint64_t id)
{
    fkp_begin(b, type, 0, id);
    return fkp_end(b);
}

int fkp_enc_sid(struct fkp_buf *b, uint16_t type, uint64_t id, uint32_t sid)
{
    fkp_begin(b, type, 0, id);
    fkp_put_u32(b, sid);
    fkp_put_u32(b, 0);
    return fkp_end(b);
}

int fkp_enc_have(struct fkp_buf *b, uint64_t id, const uint8_t hash[FUNK_ACCEL_HASH_SIZE])
{
    fkp_begin(b, FKP_RES_HAVE, 0, id);
    fkp_put_raw(b, hash, FUNK_ACCEL_HASH_SIZE);
    return fkp_end(b);
}

int fkp_enc_put(struct fkp_buf *b, uint64_t id, uint32_t type,
                const uint8_t hash[FUNK_ACCEL_HASH_SIZE], const void *data, size_t len)
{
    fkp_begin(b, FKP_RES_PUT, 0, id);
    fkp_put_u32(b, type);
    fkp_put_u32(b, 0);
    fkp_put_raw(b, hash, FUNK_ACCEL_HASH_SIZE);
    fkp_put_bytes(b, data, len);
    return fkp_end(b);
}

int fkp_enc_register(struct fkp_buf *b, uint64_t id, uint32_t sid, uint32_t type,
                     const uint8_t hash[FUNK_ACCEL_HASH_SIZE], const char *const *attrs,
                     size_t n_attrs)
{
    fkp_begin(b, FKP_REGISTER, 0, id);
    if (n_attrs > FKP_MAX_ATTRS)
        b->err = -E2BIG;
    fkp_put_u32(b, sid);
    fkp_put_u32(b, type);
    fkp_put_raw(b, hash, FUNK_ACCEL_HASH_SIZE);
    fkp_put_u32(b, (uint32_t)n_attrs);
    fkp_put_u32(b, 0);
    for (size_t i = 0; i < n_attrs && !b->err; i++) {
        fkp_put_string(b, attrs[2 * i]);
        fkp_put_string(b, attrs[2 * i + 1]);
    }
    return fkp_end(b);
}

int fkp_enc_unregister(struct fkp_buf *b, uint64_t id, uint32_t sid, uint32_t rid)
{
    fkp_begin(b, FKP_UNREGISTER, 0, id);
    fkp_put_u32(b, sid);
    fkp_put_u32(b, rid);
    return fkp_end(b);
}

static void put_arg(struct fkp_buf *b, const funk_accel_arg *a, bool with_data)
{
    if (a->size > UINT32_MAX && !b->err)
        b->err = -EMSGSIZE;
    fkp_put_u32(b, a->type);
    fkp_put_u32(b, a->flags);
    fkp_put_u32(b, (uint32_t)a->size);
    fkp_put_u32(b, with_data ? 1u : 0u);
    if (with_data)
        fkp_put_bytes(b, a->data, a->size);
}

int fkp_enc_call(struct fkp_buf *b, uint16_t type, uint64_t id, uint32_t sid, uint32_t rid,
                 const char *name, const funk_accel_arg *in, size_t n_in, const funk_accel_arg *out,
                 size_t n_out)
{
    fkp_begin(b, type, 0, id);
    if (n_in > FKP_MAX_ARGS || n_out > FKP_MAX_ARGS)
        b->err = -E2BIG;
    fkp_put_u32(b, sid);
    fkp_put_u32(b, rid);
    fkp_put_string(b, name);
    fkp_put_u32(b, (uint32_t)n_in);
    fkp_put_u32(b, 0);
    for (size_t i = 0; i < n_in && !b->err; i++)
        put_arg(b, &in[i], true);
    fkp_put_u32(b, (uint32_t)n_out);
    fkp_put_u32(b, 0);
    for (size_t i = 0; i < n_out && !b->err; i++)
        put_arg(b, &out[i], false);
    return fkp_end(b);
}

/* Writes rows x cols of a strided matrix as one packed bytes field. */
static void put_matrix(struct fkp_buf *b, const float *x, int rows, int cols, int ld)
{
    size_t row = (size_t)cols * sizeof(float);
    uint8_t *p = fkp_put_bytes_reserve(b, (size_t)rows * row);
    if (p == NULL)
        return;
    if (ld == cols) {
        memcpy(p, x, (size_t)rows * row);
        return;
    }
    for (int i = 0; i < rows; i++)
        memcpy(p + (size_t)i * row, x + (size_t)i * (size_t)ld, row);
}

int fkp_enc_sgemm(struct fkp_buf *b, uint64_t id, uint32_t sid, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *bm, int ldb, float beta, const float *c,
                  int ldc)
{
    fkp_begin(b, FKP_SGEMM, 0, id);
    if (m <= 0 || n <= 0 || k <= 0 || lda < k || ldb < n || (beta != 0.0f && ldc < n) ||
        (uint64_t)m * (uint64_t)(k > n ? k : n) * 4u > UINT32_MAX ||
        (uint64_t)k * (uint64_t)n * 4u > UINT32_MAX) {
        b->err = -EINVAL;
        return b->err;
    }
    fkp_put_u32(b, sid);
    fkp_put_u32(b, (uint32_t)m);
    fkp_put_u32(b, (uint32_t)n);
    fkp_put_u32(b, (uint32_t)k);
    fkp_put_f32(b, alpha);
    fkp_put_f32(b, beta);
    put_matrix(b, a, m, k, lda);
    put_matrix(b, bm, k, n, ldb);
    if (beta != 0.0f)
        put_matrix(b, c, m, n, ldc);
    else
        fkp_put_bytes(b, NULL, 0);
    return fkp_end(b);
}

int fkp_enc_image(struct fkp_buf *b, uint16_t type, uint64_t id, uint32_t sid, uint32_t rid,
                  uint32_t min_pct, uint32_t max, const void *image, size_t len)
{
    fkp_begin(b, type, 0, id);
    fkp_put_u32(b, sid);
    fkp_put_u32(b, rid);
    fkp_put_u32(b, min_pct);
    fkp_put_u32(b, max);
    fkp_put_bytes(b, image, len);
    return fkp_end(b);
}

void fkp_reply_begin(struct fkp_buf *b, const struct fkp_hdr *req, int32_t status)
{
    fkp_begin(b, req->type, FKP_F_REPLY | (status < 0 ? FKP_F_ERROR : 0u), req->id);
    fkp_put_i32(b, status);
    fkp_put_u32(b, 0);
}

int fkp_enc_error(struct fkp_buf *b, uint16_t type, uint64_t id, int32_t status)
{
    struct fkp_hdr h = {.type = type, .id = id};
    fkp_reply_begin(b, &h, status < 0 ? status : -EPROTO);
    return fkp_end(b);
}

void fkp_put_label(struct fkp_buf *b, const funk_accel_label *l)
{
    fkp_put_i32(b, l->class_id);
    fkp_put_f32(b, l->score);
    uint8_t *p = grow(b, FUNK_ACCEL_LABEL_MAX);
    if (p == NULL)
        return;
    size_t n = strnlen(l->label, FUNK_ACCEL_LABEL_MAX - 1);
    memcpy(p, l->label, n);
    memset(p + n, 0, FUNK_ACCEL_LABEL_MAX - n);
}

void fkp_put_detection(struct fkp_buf *b, const funk_accel_detection *d)
{
    fkp_put_label(b, &d->label);
    fkp_put_f32(b, d->x);
    fkp_put_f32(b, d->y);
    fkp_put_f32(b, d->w);
    fkp_put_f32(b, d->h);
}

void fkp_put_stats(struct fkp_buf *b, const struct fkp_stats *s)
{
    fkp_put_u64(b, s->connections);
    fkp_put_u64(b, s->sessions);
    fkp_put_u64(b, s->registrations);
    fkp_put_u64(b, s->cache_entries);
    fkp_put_u64(b, s->cache_bytes);
    fkp_put_u64(b, s->frames);
    fkp_put_u64(b, s->bad_frames);
    fkp_put_u64(b, s->connections_total);
}
