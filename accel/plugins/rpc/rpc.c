/* SPDX-License-Identifier: Apache-2.0 */
/* rpc plugin: forwards every operation to funk-accel-agent over the accel wire protocol
 * (containers and VMs use <funk/accel.h> unchanged; the host's plugins do the work). */
#include "proto.h"

#include <funk/abi/accel_tensor.h>

#include <funk/accel_plugin.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RPC_LOG "rpc"

/* Attributes shipped with a resource (the runtime has no enumeration of attributes): every key
 * the bundled plugins read. */
static const char *const rpc_attr_keys[] = {"kind",     "labels", "input",  "mean",   "scale",
                                            "channels", "layout", "format", "softmax"};
#define RPC_N_ATTR_KEYS (sizeof(rpc_attr_keys) / sizeof(rpc_attr_keys[0]))

struct rpc {
    struct fkp_addr addr;
    char addr_text[256];
    int timeout_ms, connect_timeout_ms;
    uint32_t max_frame;
    _Atomic uint64_t next_id;
};

struct rpc_reg {
    funk_accel_resource *res; /* the local handle (generation-checked: never reused) */
    uint32_t rid;
};

/* One connection per session: the agent ties sessions and registrations to the connection, and
 * threads using different sessions never wait for each other. */
struct rpc_sess {
    pthread_mutex_t lock;
    int fd; /* -1: not connected (never yet, or dropped after a failure) */
    uint32_t sid;
    bool was_connected;
    struct rpc_reg *regs;
    size_t n_regs, cap_regs;
    struct fkp_buf out;
    uint8_t *rbuf;
    size_t rcap;
    struct fkp_msg reply;
};

static int env_int(const char *name, long min, long max, long def, long *out)
{
    const char *v = getenv(name);
    *out = def;
    if (v == NULL || *v == '\0')
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end != '\0' || n < min || n > max) {
        funk_accel_log(FUNK_LOG_ERROR, RPC_LOG, "%s=%s: expected a number from %ld to %ld", name, v,
                       min, max);
        return -EINVAL;
    }
    *out = n;
    return 0;
}

static int rpc_init(void **state)
{
    const char *addr = getenv("FUNK_ACCEL_RPC_ADDRESS");
    if (addr == NULL || *addr == '\0') {
        funk_accel_log(FUNK_LOG_WARN, RPC_LOG,
                       "FUNK_ACCEL_RPC_ADDRESS is not set: no agent to forward to");
        return -ENODEV;
    }
    struct rpc *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    const char *why = NULL;
    long timeout, ctimeout, max_frame;
    int rc = fkp_addr_parse(addr, &p->addr, &why);
    if (rc < 0) {
        funk_accel_log(FUNK_LOG_ERROR, RPC_LOG, "FUNK_ACCEL_RPC_ADDRESS=%s: %s", addr, why);
        goto fail;
    }
    if ((rc = env_int("FUNK_ACCEL_RPC_TIMEOUT_MS", 1, INT_MAX, 60000, &timeout)) < 0 ||
        (rc = env_int("FUNK_ACCEL_RPC_CONNECT_TIMEOUT_MS", 1, INT_MAX, 5000, &ctimeout)) < 0 ||
        (rc = env_int("FUNK_ACCEL_RPC_MAX_FRAME", 64, FKP_MAX_FRAME_LIMIT, FKP_MAX_FRAME_DEFAULT,
                      &max_frame)) < 0)
        goto fail;
    snprintf(p->addr_text, sizeof(p->addr_text), "%s", addr);
    p->timeout_ms = (int)timeout;
    p->connect_timeout_ms = (int)ctimeout;
    p->max_frame = (uint32_t)max_frame;
    atomic_init(&p->next_id, 1);
    funk_accel_log(FUNK_LOG_INFO, RPC_LOG, "forwarding to %s (timeout %d ms)", p->addr_text,
                   p->timeout_ms);
    *state = p;
    return 0;
fail:
    free(p);
    return rc;
}

static void rpc_fini(void *state)
{
    free(state);
}

static int rpc_session_open(void *state, void **sstate)
{
    struct rpc *p = state;
    struct rpc_sess *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->fd = -1;
    s->out.max = p->max_frame;
    *sstate = s;
    return 0;
}

static void drop_connection(struct rpc_sess *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->n_regs = 0; /* the agent freed them with the connection */
}

static void rpc_session_close(void *state, void *sstate)
{
    (void)state;
    struct rpc_sess *s = sstate;
    if (s == NULL)
        return;
    drop_connection(s); /* closing the connection frees the remote session and registrations */
    free(s->regs);
    free(s->rbuf);
    fkp_buf_free(&s->out);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Sends s->out and reads the matching reply into s->reply. Transport failures drop the
 * connection (the next call reconnects); a negative status from the agent is returned as is. */
static int exchange(struct rpc *p, struct rpc_sess *s)
{
    const uint8_t *hdr = s->out.p;
    uint16_t type = (uint16_t)(hdr[6] | hdr[7] << 8);
    uint64_t id = 0;
    memcpy(&id, hdr + 16, sizeof(id)); /* little-endian host */
    int rc = fkp_write_all(s->fd, s->out.p, s->out.len, p->timeout_ms);
    struct fkp_hdr h;
    if (rc == 0)
        rc = fkp_read_frame(s->fd, &s->rbuf, &s->rcap, &h, p->max_frame, p->timeout_ms);
    if (rc == 0 && (!(h.flags & FKP_F_REPLY) || h.id != id || (h.type != type && h.type != 0)))
        rc = -EPROTO;
    if (rc == 0)
        rc = fkp_decode(&h, s->rbuf, &s->reply);
    if (rc < 0) {
        if (rc != -ETIMEDOUT && rc != -ECONNRESET)
            rc = -EPROTO;
        funk_accel_log(FUNK_LOG_WARN, RPC_LOG, "%s to %s: %s: connection dropped",
                       fkp_type_name(type), p->addr_text, funk_accel_strerror(rc));
        drop_connection(s);
        return rc;
    }
    return s->reply.status;
}

/* Connects and opens the remote session when the session has no live connection. */
static int ensure(struct rpc *p, struct rpc_sess *s)
{
    if (s->fd >= 0)
        return 0;
    int fd = fkp_connect(&p->addr, p->connect_timeout_ms);
    if (fd < 0) {
        funk_accel_log(FUNK_LOG_WARN, RPC_LOG, "connect %s: %s", p->addr_text, strerror(-fd));
        return fd == -ETIMEDOUT ? -ETIMEDOUT : -EIO; /* the log line says why */
    }
    s->fd = fd;
    s->n_regs = 0;
    int rc = fkp_enc_simple(&s->out, FKP_SESSION_NEW, atomic_fetch_add(&p->next_id, 1));
    if (rc == 0)
        rc = exchange(p, s);
    if (rc < 0) {
        drop_connection(s);
        return rc;
    }
    s->sid = s->reply.u.sess.sid;
    funk_accel_log(FUNK_LOG_INFO, RPC_LOG, "%s %s: remote session %u",
                   s->was_connected ? "reconnected to" : "connected to", p->addr_text, s->sid);
    s->was_connected = true;
    return 0;
}

static uint64_t next_id(struct rpc *p)
{
    return atomic_fetch_add(&p->next_id, 1);
}

/* The agent's id for a local resource: shipped by hash only if the agent lacks the bytes,
 * registered to the remote session once per connection. */
static int remote_rid(struct rpc *p, struct rpc_sess *s, funk_accel_resource *r, uint32_t *rid)
{
    for (size_t i = 0; i < s->n_regs; i++)
        if (s->regs[i].res == r) {
            *rid = s->regs[i].rid;
            return 0;
        }
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    const void *data;
    size_t len;
    uint32_t type = (uint32_t)funk_accel_resource_get_type(r);
    int rc = funk_accel_resource_hash(r, hash);
    if (rc == 0)
        rc = funk_accel_resource_data(r, &data, &len);
    if (rc == 0)
        rc = fkp_enc_have(&s->out, next_id(p), hash);
    if (rc == 0)
        rc = exchange(p, s);
    if (rc < 0)
        return rc;
    if (!s->reply.u.present) {
        funk_accel_log(FUNK_LOG_DEBUG, RPC_LOG, "shipping a resource of %zu bytes", len);
        rc = fkp_enc_put(&s->out, next_id(p), type, hash, data, len);
        if (rc == 0)
            rc = exchange(p, s);
        if (rc < 0)
            return rc;
    }
    const char *attrs[2 * RPC_N_ATTR_KEYS];
    size_t n_attrs = 0;
    for (size_t i = 0; i < RPC_N_ATTR_KEYS; i++) {
        const char *v = funk_accel_resource_get_attr(r, rpc_attr_keys[i]);
        if (v != NULL) {
            attrs[2 * n_attrs] = rpc_attr_keys[i];
            attrs[2 * n_attrs + 1] = v;
            n_attrs++;
        }
    }
    rc = fkp_enc_register(&s->out, next_id(p), s->sid, type, hash, attrs, n_attrs);
    if (rc == 0)
        rc = exchange(p, s);
    if (rc < 0)
        return rc;
    if (s->n_regs == s->cap_regs) {
        size_t cap = s->cap_regs ? 2 * s->cap_regs : 8;
        struct rpc_reg *g = realloc(s->regs, cap * sizeof(*g));
        if (g == NULL)
            return -ENOMEM;
        s->regs = g;
        s->cap_regs = cap;
    }
    s->regs[s->n_regs++] = (struct rpc_reg){r, s->reply.u.rid};
    *rid = s->reply.u.rid;
    return 0;
}

/* Every operation: lock the session, connect if needed, run body, unlock. */
#define RPC_BEGIN(c)                                                                               \
    struct rpc *p = (c)->plugin;                                                                   \
    struct rpc_sess *s = (c)->session_state;                                                       \
    pthread_mutex_lock(&s->lock);                                                                  \
    int rc = ensure(p, s);                                                                         \
    if (rc < 0)                                                                                    \
    goto out

static int rpc_noop(const funk_accel_call *c)
{
    RPC_BEGIN(c);
    rc = fkp_enc_sid(&s->out, FKP_NOOP, next_id(p), s->sid);
    if (rc == 0)
        rc = exchange(p, s);
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Copies the reply's outputs into the caller's buffers. */
static int take_outs(struct rpc_sess *s, funk_accel_arg *out, size_t n_out)
{
    if (s->reply.u.call_r.outs.n != n_out)
        return -EPROTO;
    struct fkp_iter it;
    uint32_t used;
    struct fkp_bytes d;
    fkp_iter_init(&it, &s->reply.u.call_r.outs);
    for (size_t i = 0; fkp_next_out(&it, &used, &d); i++) {
        if (d.len > out[i].size)
            return -EPROTO;
        memcpy(out[i].data, d.p, d.len);
        out[i].used = used;
    }
    return 0;
}

static int forward_call(const funk_accel_call *c, uint16_t type, funk_accel_resource *lib,
                        const char *name, const funk_accel_arg *in, size_t n_in,
                        funk_accel_arg *out, size_t n_out)
{
    RPC_BEGIN(c);
    uint32_t rid = 0;
    if (lib != NULL && (rc = remote_rid(p, s, lib, &rid)) < 0)
        goto out;
    rc = fkp_enc_call(&s->out, type, next_id(p), s->sid, rid, name, in, n_in, out, n_out);
    if (rc == 0)
        rc = exchange(p, s);
    if (rc >= 0) {
        int trc = take_outs(s, out, n_out);
        if (trc < 0)
            rc = trc;
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int rpc_exec(const funk_accel_call *c, funk_accel_resource *library, const char *symbol,
                    const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out)
{
    return forward_call(c, FKP_EXEC, library, symbol, in, n_in, out, n_out);
}

static int rpc_sgemm(const funk_accel_call *c, int m, int n, int k, float alpha, const float *a,
                     int lda, const float *b, int ldb, float beta, float *cm, int ldc)
{
    RPC_BEGIN(c);
    rc = fkp_enc_sgemm(&s->out, next_id(p), s->sid, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
    if (rc == 0)
        rc = exchange(p, s);
    if (rc >= 0) {
        size_t row = (size_t)n * sizeof(float);
        const struct fkp_bytes *r = &s->reply.u.sgemm_c;
        if (r->len != (size_t)m * row) {
            rc = -EPROTO;
            goto out;
        }
        for (int i = 0; i < m; i++)
            memcpy(cm + (size_t)i * (size_t)ldc, r->p + (size_t)i * row, row);
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int forward_image(const funk_accel_call *c, uint16_t type, funk_accel_resource *model,
                         const void *image, size_t len, uint32_t min_pct, void *res, size_t max)
{
    RPC_BEGIN(c);
    uint32_t rid = 0;
    if (max > FKP_MAX_RESULTS)
        max = FKP_MAX_RESULTS;
    if (model != NULL && (rc = remote_rid(p, s, model, &rid)) < 0)
        goto out;
    rc = fkp_enc_image(&s->out, type, next_id(p), s->sid, rid, min_pct, (uint32_t)max, image, len);
    if (rc == 0)
        rc = exchange(p, s);
    if (rc >= 0) {
        const struct fkp_list *l = &s->reply.u.results;
        if (l->n > max || (uint32_t)rc != l->n) {
            rc = -EPROTO;
            goto out;
        }
        for (uint32_t i = 0; i < l->n; i++) {
            if (type == FKP_DETECT)
                fkp_get_detection(l, i, &((funk_accel_detection *)res)[i]);
            else
                fkp_get_label(l, i, &((funk_accel_label *)res)[i]);
        }
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int rpc_classify(const funk_accel_call *c, funk_accel_resource *model, const void *image,
                        size_t image_len, funk_accel_label *out, size_t max)
{
    return forward_image(c, FKP_CLASSIFY, model, image, image_len, 0, out, max);
}

static int rpc_detect(const funk_accel_call *c, funk_accel_resource *model, const void *image,
                      size_t image_len, uint32_t min_score_pct, funk_accel_detection *out,
                      size_t max)
{
    return forward_image(c, FKP_DETECT, model, image, image_len, min_score_pct, out, max);
}

/* "stats": out[0] BYTES of 8 little-endian u64 counters of the agent (struct fkp_stats order).
 * "plugins": out[0] STRING, one "name version priority ops available" line per agent plugin.
 * Any other name is forwarded to the agent's funk_accel_op. */
static int rpc_local_op(const funk_accel_call *c, const char *name, funk_accel_arg *out,
                        size_t n_out)
{
    RPC_BEGIN(c);
    if (n_out < 1) {
        rc = -EINVAL;
        goto out;
    }
    bool stats = !strcmp(name, "stats");
    rc = fkp_enc_simple(&s->out, stats ? FKP_STATS : FKP_PLUGINS, next_id(p));
    if (rc == 0)
        rc = exchange(p, s);
    if (rc < 0)
        goto out;
    if (stats) {
        uint64_t v[8] = {s->reply.u.stats.connections,   s->reply.u.stats.sessions,
                         s->reply.u.stats.registrations, s->reply.u.stats.cache_entries,
                         s->reply.u.stats.cache_bytes,   s->reply.u.stats.frames,
                         s->reply.u.stats.bad_frames,    s->reply.u.stats.connections_total};
        out[0].used = sizeof(v);
        if (out[0].size < sizeof(v)) {
            rc = -ENOSPC;
            goto out;
        }
        memcpy(out[0].data, v, sizeof(v));
        rc = 0;
        goto out;
    }
    struct fkp_iter it;
    struct fkp_plugin pl;
    size_t at = 0;
    char *dst = out[0].data;
    fkp_iter_init(&it, &s->reply.u.plugins);
    while (fkp_next_plugin(&it, &pl)) {
        char line[512];
        int n = snprintf(line, sizeof(line), "%s %s %d 0x%x %u\n", pl.name, pl.version, pl.priority,
                         pl.ops, pl.available);
        if (n > 0 && at + (size_t)n < out[0].size)
            memcpy(dst + at, line, (size_t)n);
        at += n > 0 ? (size_t)n : 0;
    }
    out[0].used = at + 1;
    if (at + 1 > out[0].size) {
        rc = -ENOSPC;
        goto out;
    }
    dst[at] = '\0';
    rc = (int)s->reply.u.plugins.n;
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int rpc_op(const funk_accel_call *c, const char *name, const funk_accel_arg *in, size_t n_in,
                  funk_accel_arg *out, size_t n_out)
{
    if (!strcmp(name, "stats") || !strcmp(name, "plugins"))
        return rpc_local_op(c, name, out, n_out);
    return forward_call(c, FKP_OP, NULL, name, in, n_in, out, n_out);
}

/* Library-allocated outputs travel in buffers of this size first; a bigger output costs one
 * more run with the exact sizes the agent answered. */
#define RPC_TENSOR_GUESS (64u << 10)

/* One model run as the generic operation "model_run" (funk/abi/accel_tensor.h): the model is
 * registered with the agent as for classify, then named by its hash. Returns the op's answer
 * (0, FUNK_ACCEL_TENSOR_R_NOSPC or a negative errno) with the descriptors in od. */
static int tensor_exchange(struct rpc *p, struct rpc_sess *s, const uint8_t *hash,
                           const funk_accel_tensor *in, size_t n_in,
                           const funk_accel_tensor *out, void *const *bufs,
                           const size_t *caps, size_t n_out, struct funk_accel_tensor_desc *od,
                           size_t *used)
{
    struct funk_accel_tensor_call call = {.magic = FUNK_ACCEL_TENSOR_MAGIC,
                                          .version = FUNK_ACCEL_TENSOR_WIRE_VERSION,
                                          .n_in = (uint32_t)n_in,
                                          .n_out = (uint32_t)n_out};
    memcpy(call.model_hash, hash, sizeof(call.model_hash));
    struct funk_accel_tensor_desc d[2 * FUNK_ACCEL_TENSOR_MAX];
    memset(d, 0, sizeof(d));
    funk_accel_arg ain[2 + FUNK_ACCEL_TENSOR_MAX], aout[1 + FUNK_ACCEL_TENSOR_MAX];
    for (size_t i = 0; i < n_in; i++) {
        d[i].dtype = in[i].dtype;
        d[i].rank = in[i].rank;
        memcpy(d[i].shape, in[i].shape, sizeof(d[i].shape));
        if (in[i].name)
            snprintf(d[i].name, sizeof(d[i].name), "%s", in[i].name);
        ain[2 + i] = FUNK_ACCEL_ARG_BYTES_OF(in[i].data, in[i].size);
    }
    /* the outputs asked for by name (the agent picks the model's outputs by them; without a
     * name, by position) */
    for (size_t i = 0; i < n_out; i++)
        if (out[i].name)
            snprintf(d[n_in + i].name, sizeof(d[n_in + i].name), "%s", out[i].name);
    ain[0] = FUNK_ACCEL_ARG_BYTES_OF(&call, sizeof(call));
    ain[1] = FUNK_ACCEL_ARG_BYTES_OF(d, (n_in + n_out) * sizeof(d[0]));
    aout[0] = FUNK_ACCEL_ARG_BYTES_OF(od, n_out * sizeof(od[0]));
    for (size_t i = 0; i < n_out; i++)
        aout[1 + i] = FUNK_ACCEL_ARG_BYTES_OF(bufs[i], caps[i]);
    int rc = fkp_enc_call(&s->out, FKP_OP, next_id(p), s->sid, 0, FUNK_ACCEL_TENSOR_OP, ain,
                          2 + n_in, aout, 1 + n_out);
    if (rc == 0)
        rc = exchange(p, s);
    if (rc >= 0) {
        int trc = take_outs(s, aout, 1 + n_out);
        if (trc < 0)
            return trc;
        if (aout[0].used != n_out * sizeof(od[0]) || rc > FUNK_ACCEL_TENSOR_R_NOSPC)
            return -EPROTO;
        for (size_t i = 0; i < n_out; i++)
            used[i] = aout[1 + i].used;
    }
    return rc;
}

static int rpc_model_run(const funk_accel_call *c, funk_accel_resource *model,
                         const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                         size_t n_out)
{
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    struct funk_accel_tensor_desc od[FUNK_ACCEL_TENSOR_MAX];
    size_t caps[FUNK_ACCEL_TENSOR_MAX], used[FUNK_ACCEL_TENSOR_MAX];
    void *bufs[FUNK_ACCEL_TENSOR_MAX] = {0};
    void *tmp[FUNK_ACCEL_TENSOR_MAX] = {0}; /* our buffers for library-allocated outputs */
    if (n_in > FUNK_ACCEL_TENSOR_MAX || n_out > FUNK_ACCEL_TENSOR_MAX)
        return -E2BIG;
    for (size_t i = 0; i < n_in; i++)
        if (in[i].name && strlen(in[i].name) >= FUNK_ACCEL_TENSOR_NAME_MAX)
            return -EINVAL;
    for (size_t i = 0; i < n_out; i++)
        if (out[i].name && strlen(out[i].name) >= FUNK_ACCEL_TENSOR_NAME_MAX)
            return -EINVAL;
    RPC_BEGIN(c);
    uint32_t rid;
    if ((rc = funk_accel_resource_hash(model, hash)) < 0 ||
        (rc = remote_rid(p, s, model, &rid)) < 0)
        goto out;
    for (size_t i = 0; i < n_out; i++) {
        bufs[i] = out[i].data;
        caps[i] = out[i].size;
        if (bufs[i] == NULL) {
            tmp[i] = malloc(RPC_TENSOR_GUESS);
            if (tmp[i] == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            bufs[i] = tmp[i];
            caps[i] = RPC_TENSOR_GUESS;
        }
    }
    for (int attempt = 0;; attempt++) {
        rc = tensor_exchange(p, s, hash, in, n_in, out, bufs, caps, n_out, od, used);
        if (rc < 0)
            goto out;
        /* The agent's descriptors are checked like any hostile input: through the same
         * shape checks, and their bytes must be what the agent says it wrote. */
        bool retry = false;
        int orc = 0;
        for (size_t i = 0; i < n_out; i++) {
            funk_accel_tensor t = out[i];
            void *dst;
            int r;
            if (tmp[i]) { /* sized by the agent's answer; allocated by the runtime */
                t.data = NULL;
                t.size = 0;
                t.flags = 0;
            }
            if (od[i].rank > FUNK_ACCEL_TENSOR_MAX_RANK) {
                rc = -EPROTO;
                goto out;
            }
            if (tmp[i] && used[i] > caps[i]) {
                /* Too big for our guess: size the buffer now, run again. */
                free(tmp[i]);
                tmp[i] = malloc(used[i] ? used[i] : 1);
                if (tmp[i] == NULL) {
                    rc = -ENOMEM;
                    goto out;
                }
                bufs[i] = tmp[i];
                caps[i] = used[i];
                retry = true;
                continue;
            }
            r = funk_accel_tensor_output(&t, od[i].dtype, od[i].rank, od[i].shape, &dst);
            if (r == 0 && t.used != used[i])
                r = -EPROTO;
            if (r == 0 && rc == 0 && tmp[i])
                memcpy(dst, tmp[i], t.used);
            if (r < 0 && r != -ENOSPC) {
                if (tmp[i] && t.data)
                    funk_accel_tensor_release(&t);
                rc = r == -EINVAL || r == -E2BIG ? -EPROTO : r;
                goto out;
            }
            if (r == -ENOSPC)
                orc = -ENOSPC;
            out[i] = t; /* shapes, used, and the runtime's buffer for library outputs */
        }
        if (retry && attempt == 0) {
            for (size_t i = 0; i < n_out; i++)
                if (tmp[i] && out[i].flags & FUNK_ACCEL_TENSOR_F_OWNED)
                    funk_accel_tensor_release(&out[i]);
            continue;
        }
        if (retry || (rc == FUNK_ACCEL_TENSOR_R_NOSPC && orc == 0))
            rc = -EPROTO; /* the agent disagrees with itself about the sizes */
        else
            rc = rc == FUNK_ACCEL_TENSOR_R_NOSPC ? -ENOSPC : orc;
        break;
    }
out:
    for (size_t i = 0; i < n_out; i++)
        free(tmp[i]);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 50, .name = "rpc", .version = "0.1.0",
                         .description = "forwards every operation to funk-accel-agent",
                         .init = rpc_init, .fini = rpc_fini, .session_open = rpc_session_open,
                         .session_close = rpc_session_close, .noop = rpc_noop, .exec = rpc_exec,
                         .sgemm = rpc_sgemm, .image_classify = rpc_classify,
                         .image_detect = rpc_detect, .op = rpc_op,
                         .model_run = rpc_model_run);
