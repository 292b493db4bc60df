/* SPDX-License-Identifier: Apache-2.0 */
/* funk accel wire protocol (docs/accel-protocol.md): frames, messages, encoder, the one decoder. */
#ifndef FUNK_ACCEL_PROTO_H
#define FUNK_ACCEL_PROTO_H

#include <funk/accel.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A frame is a 24-byte header followed by `len` payload bytes. Every integer is little-endian.
 *   u32 magic "FKAP"  u16 version  u16 type  u32 flags  u32 len  u64 id
 * The header layout never changes between versions, so a peer can always skip a frame it does
 * not understand. A reply carries the request's type and id with FKP_F_REPLY set; its payload
 * starts with an i32 status (>= 0 success, < 0 a negative errno with FKP_F_ERROR set; an error
 * reply has nothing after the status).
 * Variable-length fields (bytes, strings) are a u32 length then the bytes then zero padding up to
 * the next multiple of 8, so that data in a payload read into an 8-aligned buffer is aligned.
 */
#define FKP_MAGIC 0x50414b46u /* "FKAP" */
#define FKP_VERSION 1u
#define FKP_HDR_SIZE 24u
#define FKP_MAX_FRAME_DEFAULT (256u << 20) /* payload bytes */
#define FKP_MAX_FRAME_LIMIT (1u << 30)     /* the largest a peer may configure */
#define FKP_MAX_ARGS 64u
#define FKP_MAX_ATTRS 64u
#define FKP_MAX_STRING (1u << 20) /* bytes of one string including its NUL */
#define FKP_MAX_RESULTS 4096u     /* labels / detections in a reply */
#define FKP_MAX_PLUGINS 256u

#define FKP_F_REPLY 0x1u
#define FKP_F_ERROR 0x2u
#define FKP_F_KNOWN (FKP_F_REPLY | FKP_F_ERROR)

enum fkp_type {
    FKP_SESSION_NEW = 1,    /* -> sid */
    FKP_SESSION_DELETE = 2, /* sid */
    FKP_RES_HAVE = 3,       /* hash -> present */
    FKP_RES_PUT = 4,        /* type, hash, data */
    FKP_REGISTER = 5,       /* sid, type, hash, attrs -> rid */
    FKP_UNREGISTER = 6,     /* sid, rid */
    FKP_NOOP = 7,           /* sid */
    FKP_EXEC = 8,           /* sid, rid, symbol, in args, out specs -> rc, outs */
    FKP_SGEMM = 9,          /* sid, m n k, alpha beta, A B [C] -> C */
    FKP_CLASSIFY = 10,      /* sid, rid|0, max, image -> labels */
    FKP_DETECT = 11,        /* sid, rid|0, min_pct, max, image -> detections */
    FKP_OP = 12,            /* sid, name, in args, out specs -> rc, outs */
    FKP_PLUGINS = 13,       /* -> plugin records */
    FKP_STATS = 14,         /* -> counters */
    FKP_TYPE_MAX
};

const char *fkp_type_name(uint32_t type);

struct fkp_hdr {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t flags;
    uint32_t len;
    uint64_t id;
};

/* A validated region of the payload. */
struct fkp_bytes {
    const uint8_t *p;
    uint32_t len;
};

/* A validated array of n records in [p, p+len); read with the iterators below. */
struct fkp_list {
    const uint8_t *p;
    uint32_t n;
    uint32_t len;
};

struct fkp_stats {
    uint64_t connections; /* open now */
    uint64_t sessions;    /* live remote sessions, all connections */
    uint64_t registrations;
    uint64_t cache_entries; /* resource blobs cached by hash */
    uint64_t cache_bytes;
    uint64_t frames;     /* frames answered since start */
    uint64_t bad_frames; /* frames refused as malformed */
    uint64_t connections_total;
};

#define FKP_LABEL_SIZE 72u     /* i32 class_id, f32 score, char label[64] */
#define FKP_DETECTION_SIZE 88u /* label record, f32 x y w h */

/* A decoded frame. Pointers point into the payload given to fkp_decode. */
struct fkp_msg {
    struct fkp_hdr h;
    int32_t status; /* replies */
    union {
        struct {
            uint32_t sid;
        } sess; /* SESSION_NEW reply, SESSION_DELETE/NOOP request */
        struct {
            const uint8_t *hash;
        } have;
        uint32_t present; /* RES_HAVE reply */
        struct {
            uint32_t type;
            const uint8_t *hash;
            struct fkp_bytes data;
        } put;
        struct {
            uint32_t sid, type;
            const uint8_t *hash;
            struct fkp_list attrs; /* (key, value) string pairs */
        } reg;
        uint32_t rid; /* REGISTER reply */
        struct {
            uint32_t sid, rid;
        } unreg;
        struct {
            uint32_t sid, rid;        /* rid: EXEC's library (OP: 0) */
            const char *name;         /* EXEC: symbol; OP: operation name */
            struct fkp_list in, outs; /* in: args with data; outs: type + capacity */
        } call;
        struct {
            struct fkp_list outs; /* EXEC/OP reply: used + data per output; status = rc */
        } call_r;
        struct {
            uint32_t sid;
            int32_t m, n, k;
            float alpha, beta;
            struct fkp_bytes a, b, c; /* packed row-major; c empty when beta == 0 */
        } sgemm;
        struct fkp_bytes sgemm_c; /* SGEMM reply: packed m x n */
        struct {
            uint32_t sid, rid, min_pct, max;
            struct fkp_bytes image;
        } image;                 /* CLASSIFY / DETECT request */
        struct fkp_list results; /* CLASSIFY / DETECT reply */
        struct fkp_list plugins; /* PLUGINS reply */
        struct fkp_stats stats;  /* STATS reply */
    } u;
};

/* ---- Decoding ------------------------------------------------------------------------------ */

/* Checks a header: -EPROTO for a bad magic or unknown flags, -EMSGSIZE for len > max_payload,
 * -EPROTONOSUPPORT for another version (the frame can still be skipped: len is valid). */
int fkp_decode_header(const uint8_t raw[FKP_HDR_SIZE], uint32_t max_payload, struct fkp_hdr *h);

/* Decodes and fully validates a payload of h->len bytes (8-aligned for aligned data) according
 * to h->type and FKP_F_REPLY. -ENOSYS: unknown type; -EBADMSG: anything malformed (lengths,
 * counts, padding, missing or interior NULs, inconsistent sizes, trailing bytes). */
int fkp_decode(const struct fkp_hdr *h, const uint8_t *payload, struct fkp_msg *m);

/* Iterators over validated lists; each returns false when the list is exhausted. */
struct fkp_iter {
    const uint8_t *p;
    uint32_t len, pos, i, n;
};
void fkp_iter_init(struct fkp_iter *it, const struct fkp_list *l);
bool fkp_next_attr(struct fkp_iter *it, const char **key, const char **value);

struct fkp_arg {
    uint32_t type, size; /* size: input data length, or output capacity */
    const void *data;    /* inputs only */
};
bool fkp_next_arg(struct fkp_iter *it, struct fkp_arg *a);     /* request inputs */
bool fkp_next_outspec(struct fkp_iter *it, struct fkp_arg *a); /* request output specs */
bool fkp_next_out(struct fkp_iter *it, uint32_t *used, struct fkp_bytes *data); /* reply */

struct fkp_plugin {
    int32_t priority;
    uint32_t ops, available;
    const char *name, *version, *description;
};
bool fkp_next_plugin(struct fkp_iter *it, struct fkp_plugin *p);

/* Fixed-size result records. */
void fkp_get_label(const struct fkp_list *l, uint32_t i, funk_accel_label *out);
void fkp_get_detection(const struct fkp_list *l, uint32_t i, funk_accel_detection *out);

/* ---- Encoding ------------------------------------------------------------------------------- */

/* A growing frame buffer. Errors stick in err (checked once by fkp_end). */
struct fkp_buf {
    uint8_t *p;
    size_t len, cap;
    size_t max; /* payload bound (0: FKP_MAX_FRAME_DEFAULT) */
    int err;
};

void fkp_buf_free(struct fkp_buf *b);
/* Starts a frame (resets the buffer). */
void fkp_begin(struct fkp_buf *b, uint16_t type, uint32_t flags, uint64_t id);
/* Patches the payload length; returns 0 or the first error (-ENOMEM, -EMSGSIZE, -EINVAL). */
int fkp_end(struct fkp_buf *b);

void fkp_put_u32(struct fkp_buf *b, uint32_t v);
void fkp_put_i32(struct fkp_buf *b, int32_t v);
void fkp_put_u64(struct fkp_buf *b, uint64_t v);
void fkp_put_f32(struct fkp_buf *b, float v);
void fkp_put_raw(struct fkp_buf *b, const void *p, size_t n); /* no length, no padding */
void fkp_put_bytes(struct fkp_buf *b, const void *p, size_t n);
void fkp_put_string(struct fkp_buf *b, const char *s);
/* Reserves a bytes field of n bytes and returns where to write them (valid until the next put). */
void *fkp_put_bytes_reserve(struct fkp_buf *b, size_t n);

/* Requests. */
int fkp_enc_simple(struct fkp_buf *b, uint16_t type, uint64_t id); /* SESSION_NEW, PLUGINS, STATS */
int fkp_enc_sid(struct fkp_buf *b, uint16_t type, uint64_t id, uint32_t sid); /* DELETE, NOOP */
int fkp_enc_have(struct fkp_buf *b, uint64_t id, const uint8_t hash[FUNK_ACCEL_HASH_SIZE]);
int fkp_enc_put(struct fkp_buf *b, uint64_t id, uint32_t type,
                const uint8_t hash[FUNK_ACCEL_HASH_SIZE], const void *data, size_t len);
/* attrs: n_attrs pairs key0, value0, key1, value1, ... */
int fkp_enc_register(struct fkp_buf *b, uint64_t id, uint32_t sid, uint32_t type,
                     const uint8_t hash[FUNK_ACCEL_HASH_SIZE], const char *const *attrs,
                     size_t n_attrs);
int fkp_enc_unregister(struct fkp_buf *b, uint64_t id, uint32_t sid, uint32_t rid);
/* EXEC (rid, symbol) and OP (rid 0, name). */
int fkp_enc_call(struct fkp_buf *b, uint16_t type, uint64_t id, uint32_t sid, uint32_t rid,
                 const char *name, const funk_accel_arg *in, size_t n_in, const funk_accel_arg *out,
                 size_t n_out);
/* Packs A, B (and C when beta != 0) from their leading dimensions. */
int fkp_enc_sgemm(struct fkp_buf *b, uint64_t id, uint32_t sid, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *bm, int ldb, float beta, const float *c,
                  int ldc);
int fkp_enc_image(struct fkp_buf *b, uint16_t type, uint64_t id, uint32_t sid, uint32_t rid,
                  uint32_t min_pct, uint32_t max, const void *image, size_t len);

/* Replies: fkp_reply_begin writes the header and status; an error reply is complete after it. */
void fkp_reply_begin(struct fkp_buf *b, const struct fkp_hdr *req, int32_t status);
int fkp_enc_error(struct fkp_buf *b, uint16_t type, uint64_t id, int32_t status);
void fkp_put_label(struct fkp_buf *b, const funk_accel_label *l);
void fkp_put_detection(struct fkp_buf *b, const funk_accel_detection *d);
void fkp_put_stats(struct fkp_buf *b, const struct fkp_stats *s);

/* ---- Transport helpers (io.c) ------------------------------------------------------------------
 */

/*
 * Addresses: unix:///abs/path (or unix:relative/path), vsock://CID:PORT, tcp://HOST:PORT with
 * HOST an IPv4 address, [IPv6] or "localhost". Returns -EINVAL with a reason in err (if given).
 */
struct fkp_addr {
    int family; /* AF_UNIX, AF_VSOCK, AF_INET, AF_INET6 */
    unsigned char sa[128];
    uint32_t sa_len;
};
int fkp_addr_parse(const char *text, struct fkp_addr *a, const char **why);
/* A connected stream socket (CLOEXEC, blocking) or a negative errno. */
int fkp_connect(const struct fkp_addr *a, int timeout_ms);
/* A listening socket; a stale unix socket file is replaced. */
int fkp_listen(const struct fkp_addr *a, int backlog);

/* Writes everything (MSG_NOSIGNAL); -ETIMEDOUT after timeout_ms (< 0: none) without progress,
 * -ECONNRESET when the peer is gone. */
int fkp_write_all(int fd, const void *p, size_t len, int timeout_ms);
/* Reads one frame: header into h, payload into *buf (grown as needed, 8-aligned).
 * Returns 0; -ECONNRESET on EOF/reset (also EOF mid-frame), -ETIMEDOUT, or a header error of
 * fkp_decode_header (payload not read then). */
int fkp_read_frame(int fd, uint8_t **buf, size_t *cap, struct fkp_hdr *h, uint32_t max_payload,
                   int timeout_ms);

#endif
