/* SPDX-License-Identifier: Apache-2.0 */
/* ACCEL hypercall (funk extension 34): a guest's <funk/accel.h> calls served in process by
 * libfunk-accel on checked guest memory (no input copies, outputs written in place), or
 * forwarded to funk-accel-agent with the wire protocol (--accel=agent:ADDR). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <funk/abi/accel.h>
#include <funk/accel.h>
#include <funk/accel_plugin.h>
#include <funk/vm.h>

#include "hc_accel.h"
#include "hc_accel_filter.h"
#include "proto.h"
#include "sha256.h"
#include "vm_internal.h"

/* libfunk-accel's entry points, when this monitor has them (hc_accel_link.c); NULL in a
 * static-pie monitor, whose in-process mode then answers -ENOSYS and says to use the agent. */
static const struct hc_accel_rt *rt;

void hc_accel_runtime(const struct hc_accel_rt *r)
{
    rt = r;
}

static bool accel_linked(void)
{
    return rt != NULL;
}

_Static_assert(sizeof(funk_accel_arg) == sizeof(struct funk_hc_accel_arg), "arg layout");
_Static_assert(sizeof(funk_accel_label) == sizeof(struct funk_hc_accel_label), "label layout");
_Static_assert(sizeof(funk_accel_detection) == sizeof(struct funk_hc_accel_detection), "det");

#define ACCEL_MAX_SESSIONS 64u
#define ACCEL_MAX_RESOURCES 1024u
#define ACCEL_AGENT_TIMEOUT_MS 60000

/* Process-wide choice (funk-monitor --accel=...): "inproc" (default) or "agent:ADDR". */
static char accel_spec[512] = "inproc";

int funk_vm_accel_set(const char *spec)
{
    if (spec == NULL || (strcmp(spec, "inproc") != 0 && strncmp(spec, "agent:", 6) != 0))
        return -EINVAL;
    if (!strncmp(spec, "agent:", 6)) {
        struct fkp_addr a;
        if (fkp_addr_parse(spec + 6, &a, NULL) < 0)
            return -EINVAL;
    }
    if (strlen(spec) >= sizeof(accel_spec))
        return -ENAMETOOLONG;
    strcpy(accel_spec, spec);
    return 0;
}

/* Agent mode keeps what the agent needs to (re)register a guest resource. */
struct agent_res {
    uint8_t hash[FUNK_ACCEL_HASH_SIZE];
    uint32_t type;
    char **attrs; /* key, value, key, value ... */
    size_t n_attrs;
};

struct agent_reg {
    uint32_t sid, res, rid;
};

struct vm_accel {
    bool agent;
    int init_rc; /* in process: funk_accel_init's failure, answered to every call */
    /* In process: handles of libfunk-accel, index = guest id - 1. */
    funk_accel_session *sess[ACCEL_MAX_SESSIONS];
    funk_accel_resource *res[ACCEL_MAX_RESOURCES];
    /* Agent: one connection per VM; sessions are the agent's ids. */
    int fd;
    uint64_t next_id;
    struct fkp_buf out;
    uint8_t *rbuf;
    size_t rcap;
    struct fkp_msg reply;
    bool sess_live[ACCEL_MAX_SESSIONS];
    struct agent_res *ares[ACCEL_MAX_RESOURCES];
    struct agent_reg *regs;
    size_t n_regs, cap_regs;
};

/* ---- Guest memory -------------------------------------------------------------------------- */

/* A guest NUL-terminated string of at most max bytes (NUL included), or NULL. */
static const char *guest_str(struct funk_vm *vm, uint64_t gpa, size_t max)
{
    const char *p = vm_gpa(vm, gpa, 1);
    if (p == NULL || gpa < 0x1000)
        return NULL;
    uint64_t avail = vm->mem_end - gpa;
    size_t n = avail < max ? (size_t)avail : max;
    return memchr(p, '\0', n) ? p : NULL;
}

/* A guest buffer of len bytes (len > 0), or NULL. */
static void *guest_buf(struct funk_vm *vm, uint64_t gpa, uint64_t len)
{
    if (gpa < 0x1000 || len == 0)
        return NULL;
    return vm_gpa(vm, gpa, len);
}

/* Translates the guest's argument records into host ones whose data point into guest memory. */
static int guest_args(struct funk_vm *vm, uint64_t gpa, uint64_t n, funk_accel_arg *host,
                      struct funk_hc_accel_arg **recs)
{
    *recs = NULL;
    if (n == 0)
        return 0;
    if (n > FUNK_HC_ACCEL_MAX_ARGS)
        return -EINVAL;
    if (gpa & 7)
        return -EFAULT;
    struct funk_hc_accel_arg *r = guest_buf(vm, gpa, n * sizeof(*r));
    if (r == NULL)
        return -EFAULT;
    for (uint64_t i = 0; i < n; i++) {
        void *d = guest_buf(vm, r[i].data, r[i].size);
        if (d == NULL)
            return r[i].size == 0 ? -EINVAL : -EFAULT;
        host[i] = (funk_accel_arg){r[i].type, r[i].flags, d, (size_t)r[i].size, 0};
    }
    *recs = r;
    return 0;
}

/* ---- In process ---------------------------------------------------------------------------- */

static funk_accel_session *ip_sess(struct vm_accel *x, uint32_t id)
{
    return id >= 1 && id <= ACCEL_MAX_SESSIONS ? x->sess[id - 1] : NULL;
}

static funk_accel_resource *ip_res(struct vm_accel *x, uint32_t id)
{
    return id >= 1 && id <= ACCEL_MAX_RESOURCES ? x->res[id - 1] : NULL;
}

/* Checks sgemm's matrices against guest memory; fills host pointers. */
static int sgemm_bufs(struct funk_vm *vm, const struct funk_hc_accel *a, const float **am,
                      const float **bm, float **cm)
{
    int64_t m = (int64_t)a->p[0], n = (int64_t)a->p[1], k = (int64_t)a->p[2];
    int64_t lda = (int64_t)a->p[3], ldb = (int64_t)a->p[4], ldc = (int64_t)a->p[5];
    if (m <= 0 || n <= 0 || k <= 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || lda < k ||
        ldb < n || ldc < n || lda > INT32_MAX || ldb > INT32_MAX || ldc > INT32_MAX)
        return -EINVAL;
    if ((a->p[7] | a->p[8] | a->p[9]) & 3)
        return -EFAULT;
    /* Extent of a rows x cols matrix with leading dimension ld, in bytes (fits in 64 bits). */
    uint64_t ea = ((uint64_t)(m - 1) * (uint64_t)lda + (uint64_t)k) * 4;
    uint64_t eb = ((uint64_t)(k - 1) * (uint64_t)ldb + (uint64_t)n) * 4;
    uint64_t ec = ((uint64_t)(m - 1) * (uint64_t)ldc + (uint64_t)n) * 4;
    *am = guest_buf(vm, a->p[7], ea);
    *bm = guest_buf(vm, a->p[8], eb);
    *cm = guest_buf(vm, a->p[9], ec);
    return *am && *bm && *cm ? 0 : -EFAULT;
}

/* Checks classify/detect's image and (4-byte aligned) result array against guest memory. */
static int image_bufs(struct funk_vm *vm, const struct funk_hc_accel *a, bool det,
                      const void **img, void **out)
{
    uint64_t max = a->p[3];
    size_t rec = det ? sizeof(funk_accel_detection) : sizeof(funk_accel_label);
    if (max == 0 || max > FUNK_HC_ACCEL_MAX_RESULTS)
        return -EINVAL;
    *img = guest_buf(vm, a->p[0], a->p[1]);
    *out = (a->p[2] & 3) ? NULL : guest_buf(vm, a->p[2], max * rec);
    if (*img == NULL || *out == NULL)
        return a->p[1] == 0 ? -EINVAL : -EFAULT;
    return 0;
}

static float f32_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

/* Operations that need a live session (the runtime would say -EINVAL for a NULL one). */
static bool needs_session(uint32_t op)
{
    return op == FUNK_HC_ACCEL_SESSION_DELETE || op == FUNK_HC_ACCEL_REGISTER ||
           op == FUNK_HC_ACCEL_UNREGISTER || op >= FUNK_HC_ACCEL_NOOP;
}

static int ip_call(struct funk_vm *vm, struct vm_accel *x, struct funk_hc_accel *a)
{
    funk_accel_session *s = ip_sess(x, a->session);
    /* Never into the runtime after a failed init: it would retry loading plugins inside the
     * sandbox. */
    if (x->init_rc < 0)
        return x->init_rc;
    if (s == NULL && needs_session(a->op) && a->op < FUNK_HC_ACCEL_OP_MAX)
        return -EBADF;
    switch (a->op) {
    case FUNK_HC_ACCEL_SESSION_NEW: {
        uint32_t i = 0;
        while (i < ACCEL_MAX_SESSIONS && x->sess[i])
            i++;
        if (i == ACCEL_MAX_SESSIONS)
            return -EMFILE;
        int rc = rt->session_new(&x->sess[i]);
        if (rc < 0)
            return rc;
        a->session = i + 1;
        return 0;
    }
    case FUNK_HC_ACCEL_SESSION_DELETE: {
        if (s == NULL)
            return -EBADF;
        x->sess[a->session - 1] = NULL;
        return rt->session_delete(s);
    }
    case FUNK_HC_ACCEL_RESOURCE_NEW: {
        uint32_t i = 0;
        while (i < ACCEL_MAX_RESOURCES && x->res[i])
            i++;
        if (i == ACCEL_MAX_RESOURCES)
            return -EMFILE;
        const void *d = guest_buf(vm, a->p[1], a->p[2]);
        if (d == NULL)
            return a->p[2] == 0 ? -EINVAL : -EFAULT;
        int rc = rt->resource_new_buffer(&x->res[i], (funk_accel_resource_type)a->p[0], d, a->p[2]);
        if (rc < 0) {
            x->res[i] = NULL;
            return rc;
        }
        a->resource = i + 1;
        return 0;
    }
    case FUNK_HC_ACCEL_RESOURCE_ATTR: {
        const char *k = guest_str(vm, a->p[0], FUNK_HC_ACCEL_MAX_STRING);
        const char *v = guest_str(vm, a->p[1], FUNK_HC_ACCEL_MAX_VALUE);
        if (k == NULL || v == NULL)
            return -EFAULT;
        funk_accel_resource *r = ip_res(x, a->resource);
        return r ? rt->resource_set_attr(r, k, v) : -EBADF;
    }
    case FUNK_HC_ACCEL_RESOURCE_RELEASE: {
        funk_accel_resource *r = ip_res(x, a->resource);
        if (r == NULL)
            return -EBADF;
        x->res[a->resource - 1] = NULL;
        return rt->resource_release(r);
    }
    case FUNK_HC_ACCEL_REGISTER:
    case FUNK_HC_ACCEL_UNREGISTER: {
        funk_accel_resource *r = ip_res(x, a->resource);
        if (s == NULL || r == NULL)
            return -EBADF;
        return a->op == FUNK_HC_ACCEL_REGISTER ? rt->session_register(s, r)
                                               : rt->session_unregister(s, r);
    }
    case FUNK_HC_ACCEL_NOOP:
        return s ? rt->noop(s) : -EBADF;
    case FUNK_HC_ACCEL_SGEMM: {
        const float *am, *bm;
        float *cm;
        int rc = sgemm_bufs(vm, a, &am, &bm, &cm);
        if (rc < 0)
            return rc;
        return rt->sgemm(s, (int)a->p[0], (int)a->p[1], (int)a->p[2], f32_bits((uint32_t)a->p[6]),
                         am, (int)a->p[3], bm, (int)a->p[4], f32_bits((uint32_t)(a->p[6] >> 32)),
                         cm, (int)a->p[5]);
    }
    case FUNK_HC_ACCEL_CLASSIFY:
    case FUNK_HC_ACCEL_DETECT: {
        bool det = a->op == FUNK_HC_ACCEL_DETECT;
        uint64_t max = a->p[3];
        const void *img;
        void *out;
        int rc = image_bufs(vm, a, det, &img, &out);
        if (rc < 0)
            return rc;
        funk_accel_resource *model = NULL;
        if (a->resource != 0 && (model = ip_res(x, a->resource)) == NULL)
            return -EBADF;
        if (det)
            return rt->image_detect(s, model, img, a->p[1], (uint32_t)a->p[4], out, max);
        return rt->image_classify(s, model, img, a->p[1], out, max);
    }
    case FUNK_HC_ACCEL_EXEC:
    case FUNK_HC_ACCEL_OP: {
        const char *name = guest_str(vm, a->p[0], FUNK_HC_ACCEL_MAX_STRING);
        funk_accel_arg in[FUNK_HC_ACCEL_MAX_ARGS], out[FUNK_HC_ACCEL_MAX_ARGS];
        struct funk_hc_accel_arg *rin, *rout;
        if (name == NULL)
            return -EFAULT;
        int rc = guest_args(vm, a->p[1], a->p[2], in, &rin);
        if (rc == 0)
            rc = guest_args(vm, a->p[3], a->p[4], out, &rout);
        if (rc < 0)
            return rc;
        if (a->op == FUNK_HC_ACCEL_EXEC) {
            funk_accel_resource *lib = ip_res(x, a->resource);
            rc = lib ? rt->exec(s, lib, name, in, a->p[2], out, a->p[4]) : -EBADF;
        } else {
            rc = rt->op(s, name, in, a->p[2], out, a->p[4]);
        }
        for (uint64_t i = 0; i < a->p[4]; i++)
            rout[i].used = out[i].used;
        return rc;
    }
    default:
        return -ENOSYS;
    }
}

/* ---- Through the agent ----------------------------------------------------------------------- */

static int ag_exchange(struct vm_accel *x)
{
    if (x->fd < 0)
        return -EIO;
    int rc = fkp_write_all(x->fd, x->out.p, x->out.len, ACCEL_AGENT_TIMEOUT_MS);
    struct fkp_hdr h;
    if (rc == 0)
        rc = fkp_read_frame(x->fd, &x->rbuf, &x->rcap, &h, 0, ACCEL_AGENT_TIMEOUT_MS);
    if (rc == 0 && (!(h.flags & FKP_F_REPLY) || h.id != x->next_id - 1))
        rc = -EPROTO;
    if (rc == 0)
        rc = fkp_decode(&h, x->rbuf, &x->reply);
    if (rc < 0) {
        /* The connection is out of step: no more calls through it for this VM. */
        close(x->fd);
        x->fd = -1;
        return rc == -ETIMEDOUT || rc == -ECONNRESET ? rc : -EPROTO;
    }
    return x->reply.status;
}

static uint64_t ag_id(struct vm_accel *x)
{
    return x->next_id++;
}

static bool ag_sess(struct vm_accel *x, uint32_t sid)
{
    return sid >= 1 && sid <= ACCEL_MAX_SESSIONS && x->sess_live[sid - 1];
}

static struct agent_res *ag_res(struct vm_accel *x, uint32_t id)
{
    return id >= 1 && id <= ACCEL_MAX_RESOURCES ? x->ares[id - 1] : NULL;
}

static void ag_res_free(struct agent_res *r)
{
    for (size_t i = 0; i < 2 * r->n_attrs; i++)
        free(r->attrs[i]);
    free(r->attrs);
    free(r);
}

/* The agent's rid for (session, resource), registering on first use. */
static struct agent_reg *ag_reg_find(struct vm_accel *x, uint32_t sid, uint32_t res)
{
    for (size_t i = 0; i < x->n_regs; i++)
        if (x->regs[i].sid == sid && x->regs[i].res == res)
            return &x->regs[i];
    return NULL;
}

static int ag_register(struct vm_accel *x, uint32_t sid, uint32_t res)
{
    struct agent_res *r = ag_res(x, res);
    if (!ag_sess(x, sid) || r == NULL)
        return -EBADF;
    if (ag_reg_find(x, sid, res))
        return -EEXIST;
    if (x->n_regs == x->cap_regs) {
        size_t cap = x->cap_regs ? 2 * x->cap_regs : 8;
        struct agent_reg *g = realloc(x->regs, cap * sizeof(*g));
        if (g == NULL)
            return -ENOMEM;
        x->regs = g;
        x->cap_regs = cap;
    }
    int rc = fkp_enc_register(&x->out, ag_id(x), sid, r->type, r->hash,
                              (const char *const *)r->attrs, r->n_attrs);
    if (rc == 0)
        rc = ag_exchange(x);
    if (rc < 0)
        return rc;
    x->regs[x->n_regs++] = (struct agent_reg){sid, res, x->reply.u.rid};
    return 0;
}

static int ag_rid(struct vm_accel *x, uint32_t sid, uint32_t res, uint32_t *rid)
{
    *rid = 0;
    if (res == 0)
        return 0;
    struct agent_reg *g = ag_reg_find(x, sid, res);
    if (g == NULL)
        return ag_res(x, res) ? -EPERM : -EBADF;
    *rid = g->rid;
    return 0;
}

static int ag_call(struct funk_vm *vm, struct vm_accel *x, struct funk_hc_accel *a)
{
    int rc;
    if (needs_session(a->op) && a->op < FUNK_HC_ACCEL_OP_MAX && !ag_sess(x, a->session))
        return -EBADF;
    switch (a->op) {
    case FUNK_HC_ACCEL_SESSION_NEW:
        rc = fkp_enc_simple(&x->out, FKP_SESSION_NEW, ag_id(x));
        if (rc == 0)
            rc = ag_exchange(x);
        if (rc < 0)
            return rc;
        if (x->reply.u.sess.sid < 1 || x->reply.u.sess.sid > ACCEL_MAX_SESSIONS)
            return -EMFILE;
        a->session = x->reply.u.sess.sid;
        x->sess_live[a->session - 1] = true;
        return 0;
    case FUNK_HC_ACCEL_SESSION_DELETE:
        if (!ag_sess(x, a->session))
            return -EBADF;
        x->sess_live[a->session - 1] = false;
        for (size_t i = 0; i < x->n_regs;)
            if (x->regs[i].sid == a->session)
                x->regs[i] = x->regs[--x->n_regs];
            else
                i++;
        rc = fkp_enc_sid(&x->out, FKP_SESSION_DELETE, ag_id(x), a->session);
        return rc ? rc : ag_exchange(x);
    case FUNK_HC_ACCEL_RESOURCE_NEW: {
        uint32_t i = 0;
        while (i < ACCEL_MAX_RESOURCES && x->ares[i])
            i++;
        if (i == ACCEL_MAX_RESOURCES)
            return -EMFILE;
        if (a->p[0] < FUNK_ACCEL_RES_MODEL || a->p[0] > FUNK_ACCEL_RES_LIBRARY)
            return -EINVAL;
        const void *d = guest_buf(vm, a->p[1], a->p[2]);
        if (d == NULL)
            return a->p[2] == 0 ? -EINVAL : -EFAULT;
        struct agent_res *r = calloc(1, sizeof(*r));
        if (r == NULL)
            return -ENOMEM;
        r->type = (uint32_t)a->p[0];
        accel_sha256_digest(d, a->p[2], r->hash);
        /* Shipped once: only when the agent lacks these bytes. */
        rc = fkp_enc_have(&x->out, ag_id(x), r->hash);
        if (rc == 0)
            rc = ag_exchange(x);
        if (rc == 0 && !x->reply.u.present) {
            rc = fkp_enc_put(&x->out, ag_id(x), r->type, r->hash, d, a->p[2]);
            if (rc == 0)
                rc = ag_exchange(x);
        }
        if (rc < 0) {
            ag_res_free(r);
            return rc;
        }
        x->ares[i] = r;
        a->resource = i + 1;
        return 0;
    }
    case FUNK_HC_ACCEL_RESOURCE_ATTR: {
        struct agent_res *r = ag_res(x, a->resource);
        const char *k = guest_str(vm, a->p[0], FUNK_HC_ACCEL_MAX_STRING);
        const char *v = guest_str(vm, a->p[1], FUNK_HC_ACCEL_MAX_VALUE);
        if (k == NULL || v == NULL)
            return -EFAULT;
        if (r == NULL)
            return -EBADF;
        for (uint32_t i = 0; i < x->n_regs; i++)
            if (x->regs[i].res == a->resource)
                return -EBUSY;
        if (r->n_attrs >= FKP_MAX_ATTRS)
            return -ENOSPC;
        char **p = realloc(r->attrs, (r->n_attrs + 1) * 2 * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        r->attrs = p;
        p[2 * r->n_attrs] = strdup(k);
        p[2 * r->n_attrs + 1] = strdup(v);
        r->n_attrs++;
        return p[2 * r->n_attrs - 2] && p[2 * r->n_attrs - 1] ? 0 : -ENOMEM;
    }
    case FUNK_HC_ACCEL_RESOURCE_RELEASE: {
        struct agent_res *r = ag_res(x, a->resource);
        if (r == NULL)
            return -EBADF;
        /* Registrations keep the agent's copy alive until unregistered or the session ends. */
        ag_res_free(r);
        x->ares[a->resource - 1] = NULL;
        return 0;
    }
    case FUNK_HC_ACCEL_REGISTER:
        return ag_register(x, a->session, a->resource);
    case FUNK_HC_ACCEL_UNREGISTER: {
        struct agent_reg *g = ag_reg_find(x, a->session, a->resource);
        if (!ag_sess(x, a->session))
            return -EBADF;
        if (g == NULL)
            return -EPERM;
        rc = fkp_enc_unregister(&x->out, ag_id(x), a->session, g->rid);
        *g = x->regs[--x->n_regs];
        return rc ? rc : ag_exchange(x);
    }
    case FUNK_HC_ACCEL_NOOP:
        rc = fkp_enc_sid(&x->out, FKP_NOOP, ag_id(x), a->session);
        return rc ? rc : ag_exchange(x);
    case FUNK_HC_ACCEL_SGEMM: {
        const float *am, *bm;
        float *cm;
        rc = sgemm_bufs(vm, a, &am, &bm, &cm);
        if (rc < 0)
            return rc;
        int m = (int)a->p[0], n = (int)a->p[1];
        rc = fkp_enc_sgemm(&x->out, ag_id(x), a->session, m, n, (int)a->p[2],
                           f32_bits((uint32_t)a->p[6]), am, (int)a->p[3], bm, (int)a->p[4],
                           f32_bits((uint32_t)(a->p[6] >> 32)), cm, (int)a->p[5]);
        if (rc == 0)
            rc = ag_exchange(x);
        if (rc < 0)
            return rc;
        size_t row = (size_t)n * 4;
        if (x->reply.u.sgemm_c.len != (size_t)m * row)
            return -EPROTO;
        for (int i = 0; i < m; i++)
            memcpy(cm + (size_t)i * a->p[5], x->reply.u.sgemm_c.p + (size_t)i * row, row);
        return rc;
    }
    case FUNK_HC_ACCEL_CLASSIFY:
    case FUNK_HC_ACCEL_DETECT: {
        bool det = a->op == FUNK_HC_ACCEL_DETECT;
        uint64_t max = a->p[3];
        const void *img;
        void *out;
        if ((rc = image_bufs(vm, a, det, &img, &out)) < 0)
            return rc;
        uint32_t rid;
        if ((rc = ag_rid(x, a->session, a->resource, &rid)) < 0)
            return rc;
        rc = fkp_enc_image(&x->out, det ? FKP_DETECT : FKP_CLASSIFY, ag_id(x), a->session, rid,
                           det ? (uint32_t)a->p[4] : 0, (uint32_t)max, img, a->p[1]);
        if (rc == 0)
            rc = ag_exchange(x);
        if (rc < 0)
            return rc;
        const struct fkp_list *l = &x->reply.u.results;
        if (l->n > max || (uint32_t)rc != l->n)
            return -EPROTO;
        for (uint32_t i = 0; i < l->n; i++) {
            if (det)
                fkp_get_detection(l, i, &((funk_accel_detection *)out)[i]);
            else
                fkp_get_label(l, i, &((funk_accel_label *)out)[i]);
        }
        return rc;
    }
    case FUNK_HC_ACCEL_EXEC:
    case FUNK_HC_ACCEL_OP: {
        const char *name = guest_str(vm, a->p[0], FUNK_HC_ACCEL_MAX_STRING);
        funk_accel_arg in[FUNK_HC_ACCEL_MAX_ARGS], out[FUNK_HC_ACCEL_MAX_ARGS];
        struct funk_hc_accel_arg *rin, *rout;
        uint32_t rid = 0;
        if (name == NULL)
            return -EFAULT;
        rc = guest_args(vm, a->p[1], a->p[2], in, &rin);
        if (rc == 0)
            rc = guest_args(vm, a->p[3], a->p[4], out, &rout);
        if (rc == 0 && a->op == FUNK_HC_ACCEL_EXEC)
            rc = a->resource ? ag_rid(x, a->session, a->resource, &rid) : -EINVAL;
        if (rc < 0)
            return rc;
        rc = fkp_enc_call(&x->out, a->op == FUNK_HC_ACCEL_EXEC ? FKP_EXEC : FKP_OP, ag_id(x),
                          a->session, rid, name, in, a->p[2], out, a->p[4]);
        if (rc == 0)
            rc = ag_exchange(x);
        if (rc < 0)
            return rc;
        if (x->reply.u.call_r.outs.n != a->p[4])
            return -EPROTO;
        struct fkp_iter it;
        uint32_t used;
        struct fkp_bytes d;
        fkp_iter_init(&it, &x->reply.u.call_r.outs);
        for (uint64_t i = 0; fkp_next_out(&it, &used, &d); i++) {
            if (d.len > out[i].size)
                return -EPROTO;
            memcpy(out[i].data, d.p, d.len);
            rout[i].used = used;
        }
        return rc;
    }
    default:
        return -ENOSYS;
    }
}

/* ---- Module ------------------------------------------------------------------------------------
 */

static int hc_accel(struct funk_vm *vm, void *arg)
{
    struct funk_hc_accel *a = arg;
    struct vm_accel *x = vm->accel;
    if (x == NULL) {
        a->ret = -ENOSYS;
        return HC_CONTINUE;
    }
    int rc = x->agent ? ag_call(vm, x, a) : ip_call(vm, x, a);
    a->ret = rc;
    return HC_CONTINUE;
}

/* Runs before the sandbox: loads the plugins (in process) or connects to the agent, so that
 * serving calls later needs no new files, sockets or executable mappings. Only for guests that
 * link the guest side of the API (their ELF carries the accel note). */
static int hc_accel_setup(struct funk_vm *vm)
{
    if (!vm->funk_guest || !vm->img.has_accel || vm->accel != NULL)
        return 0;
    struct vm_accel *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -ENOMEM;
    x->fd = -1;
    x->next_id = 1;
    if (!strncmp(accel_spec, "agent:", 6)) {
        struct fkp_addr addr;
        x->agent = true;
        int fd = fkp_addr_parse(accel_spec + 6, &addr, NULL);
        if (fd == 0)
            fd = fkp_connect(&addr, 5000);
        if (fd < 0) {
            vm_log(vm, "accel: cannot reach funk-accel-agent at %s: %s (ACCEL calls will fail)",
                   accel_spec + 6, strerror(-fd));
        }
        x->fd = fd;
    } else if (!accel_linked()) {
        vm_log(vm, "accel: this funk-monitor has no in-process libfunk-accel (static build): "
                   "use --accel=agent:ADDR (ACCEL calls answer -ENOSYS)");
        free(x);
        return 0;
    } else {
        int rc = rt->init(NULL);
        if (rc < 0 && rc != -EALREADY) {
            vm_log(vm, "accel: loading plugins failed: %s (ACCEL calls will fail)",
                   rt->strerror(rc));
            x->init_rc = rc;
        }
    }
    vm->accel = x;
    return 0;
}

int hc_accel_adopt(struct funk_vm *vm, int fd)
{
    if (vm->accel != NULL)
        return -EALREADY;
    struct vm_accel *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -ENOMEM;
    x->agent = true;
    x->fd = fd;
    x->next_id = 1;
    vm->accel = x;
    return 0;
}

/* The run-loop sandbox's part for ACCEL (KVM backend: the monitor serves the calls itself). */
int hc_accel_seccomp(const struct funk_vm *vm, void *ctx)
{
    const struct vm_accel *x = vm->accel;
    if (x == NULL)
        return 0;
    return hc_accel_filter_rules(ctx, x->agent ? x->fd : -1, !x->agent) ? -EINVAL : 0;
}

/* Process backend: what the child's filter must allow, and the fd the child moved the agent
 * connection to. */
int hc_accel_fd(const struct funk_vm *vm)
{
    const struct vm_accel *x = vm->accel;
    return x && x->agent ? x->fd : -1;
}

bool hc_accel_inproc(const struct funk_vm *vm)
{
    const struct vm_accel *x = vm->accel;
    return x && !x->agent;
}

void hc_accel_fd_moved(struct funk_vm *vm, int fd)
{
    struct vm_accel *x = vm->accel;
    if (x && x->agent)
        x->fd = fd;
}

void hc_accel_free(struct funk_vm *vm)
{
    struct vm_accel *x = vm->accel;
    if (x == NULL)
        return;
    for (unsigned i = 0; i < ACCEL_MAX_SESSIONS; i++)
        if (x->sess[i])
            rt->session_delete(x->sess[i]);
    for (unsigned i = 0; i < ACCEL_MAX_RESOURCES; i++) {
        if (x->res[i])
            rt->resource_release(x->res[i]);
        if (x->ares[i])
            ag_res_free(x->ares[i]);
    }
    if (x->fd >= 0)
        close(x->fd); /* the agent frees this VM's sessions with the connection */
    free(x->regs);
    free(x->rbuf);
    fkp_buf_free(&x->out);
    free(x);
    vm->accel = NULL;
}

static const struct hc_call accel_calls[] = {
    {FUNK_HC_ACCEL, sizeof(struct funk_hc_accel), true, hc_accel, false},
};

const struct hc_module hc_accel_module = {"accel", hc_accel_setup, accel_calls, 1};
