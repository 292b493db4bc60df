/* SPDX-License-Identifier: Apache-2.0 */
/* funk-accel-agent connections: one thread per client, its sessions and registrations, and the
 * handling of every request type. Everything a connection made is freed when it goes away. */
#include "agent.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct reg {
    uint32_t sid; /* 0: free slot */
    funk_accel_resource *res;
    struct cache_var *var;
};

struct conn {
    int fd;
    uint64_t id;
    char peer[64];
    funk_accel_session **sess; /* index sid-1; NULL: free */
    uint32_t n_sess, live_sess;
    struct reg *regs; /* index rid-1 */
    uint32_t n_regs, live_regs;
    /* The hashes this connection proved it holds (sent the bytes of): the only cached blobs it
     * may ask about or register. Other clients' uploads stay invisible. */
    uint8_t (*proven)[FUNK_ACCEL_HASH_SIZE];
    uint32_t n_proven, cap_proven;
    uint8_t *rbuf;
    size_t rcap;
    struct fkp_buf out;
    struct conn *next, *prev;
};

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_gone = PTHREAD_COND_INITIALIZER;
static struct conn *conns;
static unsigned n_threads;
static bool stopping;

/* ---- What this connection may name ----------------------------------------------------------- */

static bool proved(const struct conn *c, const uint8_t hash[FUNK_ACCEL_HASH_SIZE])
{
    for (uint32_t i = 0; i < c->n_proven; i++)
        if (!memcmp(c->proven[i], hash, FUNK_ACCEL_HASH_SIZE))
            return true;
    return false;
}

static int do_put(struct conn *c, const struct fkp_msg *m)
{
    if (!proved(c, m->u.put.hash) && c->n_proven >= agent_limits.max_resources)
        return -EMFILE;
    int rc = cache_put(m->u.put.type, m->u.put.hash, m->u.put.data.p, m->u.put.data.len);
    if (rc < 0 || proved(c, m->u.put.hash))
        return rc;
    if (c->n_proven == c->cap_proven) {
        uint32_t cap = c->cap_proven ? c->cap_proven * 2 : 8;
        void *p = realloc(c->proven, (size_t)cap * sizeof(*c->proven));
        if (p == NULL)
            return -ENOMEM;
        c->proven = p;
        c->cap_proven = cap;
    }
    memcpy(c->proven[c->n_proven++], m->u.put.hash, FUNK_ACCEL_HASH_SIZE);
    return 0;
}

/* ---- Sessions and registrations ------------------------------------------------------------- */

static funk_accel_session *sess_get(struct conn *c, uint32_t sid)
{
    return sid >= 1 && sid <= c->n_sess ? c->sess[sid - 1] : NULL;
}

static void reg_drop(struct conn *c, struct reg *g)
{
    cache_release(g->var);
    g->sid = 0;
    g->res = NULL;
    g->var = NULL;
    c->live_regs--;
    atomic_fetch_sub(&agent_n_regs, 1);
}

static int sess_delete(struct conn *c, uint32_t sid)
{
    funk_accel_session *s = sess_get(c, sid);
    if (s == NULL)
        return -EBADF;
    /* Deleting the session unregisters its resources in the runtime; drop our side too. */
    int rc = funk_accel_session_delete(s);
    for (uint32_t i = 0; i < c->n_regs; i++)
        if (c->regs[i].sid == sid)
            reg_drop(c, &c->regs[i]);
    c->sess[sid - 1] = NULL;
    c->live_sess--;
    atomic_fetch_sub(&agent_n_sessions, 1);
    return rc;
}

static int do_session_new(struct conn *c, uint32_t *sid)
{
    if (c->live_sess >= agent_limits.max_sessions)
        return -EMFILE;
    uint32_t i = 0;
    while (i < c->n_sess && c->sess[i] != NULL)
        i++;
    if (i == c->n_sess) {
        funk_accel_session **p = realloc(c->sess, (c->n_sess + 1) * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        c->sess = p;
        c->sess[c->n_sess++] = NULL;
    }
    int rc = funk_accel_session_new(&c->sess[i]);
    if (rc < 0) {
        c->sess[i] = NULL;
        return rc;
    }
    c->live_sess++;
    atomic_fetch_add(&agent_n_sessions, 1);
    *sid = i + 1;
    return 0;
}

static int do_register(struct conn *c, const struct fkp_msg *m, uint32_t *rid)
{
    funk_accel_session *s = sess_get(c, m->u.reg.sid);
    if (s == NULL)
        return -EBADF;
    if (c->live_regs >= agent_limits.max_resources)
        return -EMFILE;
    uint32_t i = 0;
    while (i < c->n_regs && c->regs[i].sid != 0)
        i++;
    if (i == c->n_regs) {
        struct reg *p = realloc(c->regs, (c->n_regs + 1) * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        c->regs = p;
        c->regs[c->n_regs++] = (struct reg){0};
    }
    struct cache_var *v;
    funk_accel_resource *r;
    /* Another client's blob answers exactly like one nobody cached. */
    if (!proved(c, m->u.reg.hash))
        return -ENOENT;
    int rc = cache_get(m->u.reg.hash, m->u.reg.type, &m->u.reg.attrs, &v, &r);
    if (rc < 0)
        return rc;
    rc = funk_accel_session_register(s, r);
    if (rc < 0) {
        cache_release(v);
        return rc;
    }
    c->regs[i] = (struct reg){m->u.reg.sid, r, v};
    c->live_regs++;
    atomic_fetch_add(&agent_n_regs, 1);
    *rid = i + 1;
    return 0;
}

static struct reg *reg_get(struct conn *c, uint32_t sid, uint32_t rid)
{
    if (rid < 1 || rid > c->n_regs || c->regs[rid - 1].sid != sid)
        return NULL;
    return &c->regs[rid - 1];
}

static int do_unregister(struct conn *c, uint32_t sid, uint32_t rid)
{
    funk_accel_session *s = sess_get(c, sid);
    if (s == NULL)
        return -EBADF;
    struct reg *g = reg_get(c, sid, rid);
    if (g == NULL)
        return -EBADF;
    int rc = funk_accel_session_unregister(s, g->res);
    reg_drop(c, g);
    return rc;
}

/* The resource an operation names: 0 is "none" where optional. */
static int op_resource(struct conn *c, uint32_t sid, uint32_t rid, bool optional,
                       funk_accel_resource **r)
{
    *r = NULL;
    if (rid == 0)
        return optional ? 0 : -EINVAL;
    struct reg *g = reg_get(c, sid, rid);
    if (g == NULL)
        return -EBADF;
    *r = g->res;
    return 0;
}

/* ---- Operations --------------------------------------------------------------------------- */

/* EXEC and OP: inputs point into the request; outputs get buffers of their capacity. */
static int do_call(struct conn *c, const struct fkp_msg *m)
{
    struct fkp_buf *o = &c->out;
    funk_accel_session *s = sess_get(c, m->u.call.sid);
    funk_accel_arg in[FKP_MAX_ARGS], out[FKP_MAX_ARGS];
    uint8_t *obuf = NULL;
    int rc;
    if (s == NULL) {
        rc = -EBADF;
        goto err;
    }
    funk_accel_resource *lib = NULL;
    if (m->h.type == FKP_EXEC) {
        rc = op_resource(c, m->u.call.sid, m->u.call.rid, false, &lib);
        if (rc < 0)
            goto err;
    }
    struct fkp_iter it;
    struct fkp_arg a;
    size_t n_in = 0, n_out = 0;
    uint64_t total = 0;
    fkp_iter_init(&it, &m->u.call.in);
    while (fkp_next_arg(&it, &a))
        in[n_in++] = FUNK_ACCEL_ARG(a.type, a.data, a.size);
    fkp_iter_init(&it, &m->u.call.outs);
    while (fkp_next_outspec(&it, &a)) {
        out[n_out++] = FUNK_ACCEL_ARG(a.type, NULL, a.size);
        total += a.size;
    }
    if (total > agent_limits.max_frame) {
        rc = -EMSGSIZE;
        goto err;
    }
    obuf = malloc(total ? total : 1);
    if (obuf == NULL) {
        rc = -ENOMEM;
        goto err;
    }
    for (size_t i = 0, at = 0; i < n_out; at += out[i].size, i++)
        out[i].data = obuf + at;
    if (m->h.type == FKP_EXEC)
        rc = funk_accel_exec(s, lib, m->u.call.name, in, n_in, out, n_out);
    else
        rc = funk_accel_op(s, m->u.call.name, in, n_in, out, n_out);
    if (rc < 0)
        goto err;
    fkp_reply_begin(o, &m->h, rc);
    fkp_put_u32(o, (uint32_t)n_out);
    fkp_put_u32(o, 0);
    for (size_t i = 0; i < n_out; i++) {
        size_t used = out[i].used < out[i].size ? out[i].used : out[i].size;
        fkp_put_u32(o, (uint32_t)out[i].used);
        fkp_put_u32(o, 0);
        fkp_put_bytes(o, out[i].data, used);
    }
    free(obuf);
    return fkp_end(o);
err:
    free(obuf);
    return fkp_enc_error(o, m->h.type, m->h.id, rc);
}

static int do_sgemm(struct conn *c, const struct fkp_msg *m)
{
    struct fkp_buf *o = &c->out;
    funk_accel_session *s = sess_get(c, m->u.sgemm.sid);
    int rc = -EBADF;
    if (s != NULL) {
        int M = m->u.sgemm.m, N = m->u.sgemm.n, K = m->u.sgemm.k;
        size_t clen = (size_t)M * (size_t)N * sizeof(float);
        /* The product is written straight into the reply frame. */
        fkp_reply_begin(o, &m->h, 0);
        float *cm = fkp_put_bytes_reserve(o, clen);
        if (cm == NULL)
            return fkp_enc_error(o, m->h.type, m->h.id, o->err ? o->err : -ENOMEM);
        if (m->u.sgemm.beta != 0.0f)
            memcpy(cm, m->u.sgemm.c.p, clen);
        rc = funk_accel_sgemm(s, M, N, K, m->u.sgemm.alpha, (const float *)m->u.sgemm.a.p, K,
                              (const float *)m->u.sgemm.b.p, N, m->u.sgemm.beta, cm, N);
        if (rc >= 0)
            return fkp_end(o);
    }
    return fkp_enc_error(o, m->h.type, m->h.id, rc);
}

static int do_image(struct conn *c, const struct fkp_msg *m)
{
    struct fkp_buf *o = &c->out;
    funk_accel_session *s = sess_get(c, m->u.image.sid);
    funk_accel_resource *model = NULL;
    bool detect = m->h.type == FKP_DETECT;
    void *res = NULL;
    int rc = s ? op_resource(c, m->u.image.sid, m->u.image.rid, true, &model) : -EBADF;
    if (rc < 0)
        goto err;
    size_t max = m->u.image.max;
    res = calloc(max, detect ? sizeof(funk_accel_detection) : sizeof(funk_accel_label));
    if (res == NULL) {
        rc = -ENOMEM;
        goto err;
    }
    if (detect)
        rc = funk_accel_image_detect(s, model, m->u.image.image.p, m->u.image.image.len,
                                     m->u.image.min_pct, res, max);
    else
        rc =
            funk_accel_image_classify(s, model, m->u.image.image.p, m->u.image.image.len, res, max);
    if (rc < 0)
        goto err;
    if ((size_t)rc > max)
        rc = (int)max;
    fkp_reply_begin(o, &m->h, rc);
    fkp_put_u32(o, (uint32_t)rc);
    fkp_put_u32(o, 0);
    for (int i = 0; i < rc; i++) {
        if (detect)
            fkp_put_detection(o, &((funk_accel_detection *)res)[i]);
        else
            fkp_put_label(o, &((funk_accel_label *)res)[i]);
    }
    free(res);
    return fkp_end(o);
err:
    free(res);
    return fkp_enc_error(o, m->h.type, m->h.id, rc);
}

static int do_plugins(struct conn *c, const struct fkp_msg *m)
{
    struct fkp_buf *o = &c->out;
    funk_accel_plugin_info info[FKP_MAX_PLUGINS];
    int n = funk_accel_plugins(info, FKP_MAX_PLUGINS);
    if (n < 0)
        return fkp_enc_error(o, m->h.type, m->h.id, n);
    if (n > (int)FKP_MAX_PLUGINS)
        n = FKP_MAX_PLUGINS;
    fkp_reply_begin(o, &m->h, n);
    fkp_put_u32(o, (uint32_t)n);
    fkp_put_u32(o, 0);
    for (int i = 0; i < n; i++) {
        fkp_put_i32(o, info[i].priority);
        fkp_put_u32(o, info[i].ops);
        fkp_put_u32(o, info[i].available ? 1u : 0u);
        fkp_put_u32(o, 0);
        fkp_put_string(o, info[i].name ? info[i].name : "");
        fkp_put_string(o, info[i].version ? info[i].version : "");
        fkp_put_string(o, info[i].description ? info[i].description : "");
    }
    return fkp_end(o);
}

static int do_stats(struct conn *c, const struct fkp_msg *m)
{
    struct fkp_stats st = {
        .connections = atomic_load(&agent_n_conns),
        .sessions = atomic_load(&agent_n_sessions),
        .registrations = atomic_load(&agent_n_regs),
        .frames = atomic_load(&agent_n_frames),
        .bad_frames = atomic_load(&agent_n_bad_frames),
        .connections_total = atomic_load(&agent_n_conns_total),
    };
    cache_stats(&st.cache_entries, &st.cache_bytes);
    fkp_reply_begin(&c->out, &m->h, 0);
    fkp_put_stats(&c->out, &st);
    return fkp_end(&c->out);
}

/* Answers one decoded request into c->out. */
static int handle(struct conn *c, const struct fkp_msg *m)
{
    struct fkp_buf *o = &c->out;
    int rc = 0;
    uint32_t v = 0;
    switch (m->h.type) {
    case FKP_SESSION_NEW:
        rc = do_session_new(c, &v);
        break;
    case FKP_SESSION_DELETE:
        rc = sess_delete(c, m->u.sess.sid);
        break;
    case FKP_RES_HAVE:
        v = proved(c, m->u.have.hash) && cache_have(m->u.have.hash) ? 1 : 0;
        break;
    case FKP_RES_PUT:
        rc = do_put(c, m);
        break;
    case FKP_REGISTER:
        rc = do_register(c, m, &v);
        break;
    case FKP_UNREGISTER:
        rc = do_unregister(c, m->u.unreg.sid, m->u.unreg.rid);
        break;
    case FKP_NOOP: {
        funk_accel_session *s = sess_get(c, m->u.sess.sid);
        rc = s ? funk_accel_noop(s) : -EBADF;
        break;
    }
    case FKP_EXEC:
    case FKP_OP:
        return do_call(c, m);
    case FKP_SGEMM:
        return do_sgemm(c, m);
    case FKP_CLASSIFY:
    case FKP_DETECT:
        return do_image(c, m);
    case FKP_PLUGINS:
        return do_plugins(c, m);
    case FKP_STATS:
        return do_stats(c, m);
    default:
        rc = -ENOSYS;
        break;
    }
    if (rc < 0)
        return fkp_enc_error(o, m->h.type, m->h.id, rc);
    fkp_reply_begin(o, &m->h, 0);
    if (m->h.type == FKP_SESSION_NEW || m->h.type == FKP_RES_HAVE || m->h.type == FKP_REGISTER) {
        fkp_put_u32(o, v);
        fkp_put_u32(o, 0);
    }
    return fkp_end(o);
}

/* ---- The connection thread ------------------------------------------------------------------ */

static int send_out(struct conn *c)
{
    return fkp_write_all(c->fd, c->out.p, c->out.len, agent_limits.frame_timeout_ms);
}

/* Serves frames until the peer leaves or sends something that cannot be framed. */
static void serve(struct conn *c)
{
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        struct fkp_hdr h;
        int rc = fkp_read_frame(c->fd, &c->rbuf, &c->rcap, &h, agent_limits.max_frame,
                                agent_limits.frame_timeout_ms);
        if (rc == -ECONNRESET)
            return;
        if (rc == -ETIMEDOUT) {
            agent_warn("connection %llu (%s): frame incomplete after %d ms: closing",
                       (unsigned long long)c->id, c->peer, agent_limits.frame_timeout_ms);
            atomic_fetch_add(&agent_n_bad_frames, 1);
            return;
        }
        if (rc == -EPROTO || rc == -EMSGSIZE) {
            /* Cannot find the next frame boundary: say why, then close. */
            atomic_fetch_add(&agent_n_bad_frames, 1);
            agent_warn("connection %llu (%s): %s frame header (%s): closing",
                       (unsigned long long)c->id, c->peer,
                       rc == -EPROTO ? "malformed" : "oversized", strerror(-rc));
            if (fkp_enc_error(&c->out, rc == -EMSGSIZE ? h.type : 0, rc == -EMSGSIZE ? h.id : 0,
                              rc) == 0)
                send_out(c);
            return;
        }
        if (rc < 0 && rc != -EPROTONOSUPPORT)
            return;
        struct fkp_msg m;
        if (rc == 0)
            rc = fkp_decode(&h, c->rbuf, &m);
        if (rc == 0 && (h.flags & FKP_F_REPLY))
            rc = -EPROTO; /* clients send requests only */
        if (rc < 0) {
            atomic_fetch_add(&agent_n_bad_frames, 1);
            agent_info("connection %llu: %s request (type %u): %s", (unsigned long long)c->id,
                       fkp_type_name(h.type), h.type, strerror(-rc));
            rc = fkp_enc_error(&c->out, h.type, h.id, rc);
        } else {
            rc = handle(c, &m);
            if (rc < 0) /* the reply itself could not be built (too big, no memory) */
                rc = fkp_enc_error(&c->out, h.type, h.id, rc);
        }
        atomic_fetch_add(&agent_n_frames, 1);
        if (rc < 0 || send_out(c) < 0)
            return;
    }
}

static void conn_free(struct conn *c)
{
    uint32_t s = c->live_sess, r = c->live_regs;
    for (uint32_t i = 1; i <= c->n_sess; i++)
        if (c->sess[i - 1] != NULL)
            sess_delete(c, i);
    agent_info("connection %llu (%s) closed: freed %u sessions, %u registrations",
               (unsigned long long)c->id, c->peer, s, r);
    free(c->sess);
    free(c->regs);
    free(c->proven);
    free(c->rbuf);
    fkp_buf_free(&c->out);
    close(c->fd);
    free(c);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    serve(c);
    pthread_mutex_lock(&conns_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&conns_lock);
    conn_free(c);
    atomic_fetch_sub(&agent_n_conns, 1);
    pthread_mutex_lock(&conns_lock);
    n_threads--;
    pthread_cond_broadcast(&conns_gone);
    pthread_mutex_unlock(&conns_lock);
    return NULL;
}

int conn_start(int fd, const char *peer)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->fd = fd;
    c->out.max = agent_limits.max_frame;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    pthread_mutex_lock(&conns_lock);
    if (stopping || n_threads >= agent_limits.max_clients) {
        pthread_mutex_unlock(&conns_lock);
        free(c);
        return -EBUSY;
    }
    c->id = atomic_fetch_add(&agent_n_conns_total, 1) + 1;
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    n_threads++;
    atomic_fetch_add(&agent_n_conns, 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, conn_main, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        conns = c->next;
        if (conns)
            conns->prev = NULL;
        n_threads--;
        atomic_fetch_sub(&agent_n_conns, 1);
        pthread_mutex_unlock(&conns_lock);
        free(c);
        return -rc;
    }
    agent_info("connection %llu from %s", (unsigned long long)c->id, c->peer);
    pthread_mutex_unlock(&conns_lock);
    return 0;
}

void conn_stop_all(void)
{
    pthread_mutex_lock(&conns_lock);
    stopping = true;
    /* Wakes every reader; a call in flight finishes and its reply fails to send. */
    for (struct conn *c = conns; c; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    while (n_threads > 0)
        pthread_cond_wait(&conns_gone, &conns_lock);
    pthread_mutex_unlock(&conns_lock);
}
