/* SPDX-License-Identifier: Apache-2.0 */
/* ACCEL hypercall (funk extension 34): a guest's <funk/accel.h> calls, checked against guest
 * memory and forwarded to funk-accel-agent with the wire protocol: the private agent this
 * process starts (accel_private.c) or one at agent:ADDR. Plugins never run in this process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <seccomp.h>

#include <funk/abi/accel.h>
#include <funk/accel.h>
#include <funk/vm.h>

#include "accel_private.h"
#include "proto.h"
#include "sha256.h"
#include "vm_internal.h"

_Static_assert(sizeof(funk_accel_arg) == sizeof(struct funk_hc_accel_arg), "arg layout");
_Static_assert(sizeof(funk_accel_label) == sizeof(struct funk_hc_accel_label), "label layout");
_Static_assert(sizeof(funk_accel_detection) == sizeof(struct funk_hc_accel_detection), "det");

#define ACCEL_MAX_SESSIONS 64u
#define ACCEL_MAX_RESOURCES 1024u
#define ACCEL_AGENT_TIMEOUT_MS 60000

/* Process-wide choice (funk-monitor/funkd --accel=...): "none" (the library's default: ACCEL
 * answers -ENOSYS), "private" (a funk-accel-agent child of this process, started on first use)
 * or "agent:ADDR". "inproc" and "" are the old spellings of "private": plugins no longer run in
 * the process that serves a guest's hypercalls (issue 11). */
static char accel_spec[512] = "none";

int funk_vm_accel_set(const char *spec)
{
    if (spec == NULL)
        return -EINVAL;
    if (*spec == '\0' || strcmp(spec, "inproc") == 0)
        spec = "private";
    if (strcmp(spec, "none") != 0 && strcmp(spec, "private") != 0 &&
        strncmp(spec, "agent:", 6) != 0)
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
    /* One agent connection per VM; sessions are the agent's ids. */
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

/* A guest buffer the host writes results into: also one the guest itself may write (a Linux
 * guest's page map; the read-only pages of a plain Solo5 guest), or NULL. */
static void *guest_out(struct funk_vm *vm, uint64_t gpa, uint64_t len)
{
    void *p = guest_buf(vm, gpa, len);
    return p && !vm_host_ro(vm, gpa, len) ? p : NULL;
}

/* Translates the guest's argument records into host ones whose data point into guest memory
 * (outputs: records and data the guest may write). */
static int guest_args(struct funk_vm *vm, uint64_t gpa, uint64_t n, funk_accel_arg *host,
                      struct funk_hc_accel_arg **recs, bool out)
{
    void *(*buf)(struct funk_vm *, uint64_t, uint64_t) = out ? guest_out : guest_buf;
    *recs = NULL;
    if (n == 0)
        return 0;
    if (n > FUNK_HC_ACCEL_MAX_ARGS)
        return -EINVAL;
    if (gpa & 7)
        return -EFAULT;
    struct funk_hc_accel_arg *r = buf(vm, gpa, n * sizeof(*r));
    if (r == NULL)
        return -EFAULT;
    for (uint64_t i = 0; i < n; i++) {
        void *d = buf(vm, r[i].data, r[i].size);
        if (d == NULL)
            return r[i].size == 0 ? -EINVAL : -EFAULT;
        host[i] = (funk_accel_arg){r[i].type, r[i].flags, d, (size_t)r[i].size, 0};
    }
    *recs = r;
    return 0;
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
    *cm = guest_out(vm, a->p[9], ec);
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
    *out = (a->p[2] & 3) ? NULL : guest_out(vm, a->p[2], max * rec);
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
        rc = guest_args(vm, a->p[1], a->p[2], in, &rin, false);
        if (rc == 0)
            rc = guest_args(vm, a->p[3], a->p[4], out, &rout, true);
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

/* ---- Module ----------------------------------------------------------------------------- */

static int hc_accel(struct funk_vm *vm, void *arg)
{
    struct funk_hc_accel *a = arg;
    struct vm_accel *x = vm->accel;
    a->ret = x ? ag_call(vm, x, a) : -ENOSYS;
    return HC_CONTINUE;
}

static struct vm_accel *accel_new(int fd)
{
    struct vm_accel *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    x->fd = fd;
    x->next_id = 1;
    return x;
}

/* Runs before the sandbox: connects to the agent (the private one, started on first use, or the
 * one at agent:ADDR), so that serving calls later needs no new files or sockets. Only for guests
 * that link the guest side of the API (their ELF carries the accel note). */
static int hc_accel_setup(struct funk_vm *vm)
{
    if (!vm->funk_guest || !vm->img.has_accel || vm->accel != NULL ||
        strcmp(accel_spec, "none") == 0)
        return 0;
    int fd;
    if (!strncmp(accel_spec, "agent:", 6)) {
        struct fkp_addr addr;
        fd = fkp_addr_parse(accel_spec + 6, &addr, NULL);
        if (fd == 0)
            fd = fkp_connect(&addr, 5000);
        if (fd < 0)
            vm_log(vm, "accel: cannot reach funk-accel-agent at %s: %s (ACCEL calls will fail)",
                   accel_spec + 6, strerror(-fd));
    } else {
        fd = accel_private_connect();
        if (fd < 0)
            vm_log(vm,
                   "accel: cannot start the private funk-accel-agent: %s (ACCEL calls will "
                   "fail; see FUNK_ACCEL_AGENT, or use --accel=agent:ADDR)",
                   strerror(-fd));
    }
    vm->accel = accel_new(fd);
    if (vm->accel == NULL) {
        if (fd >= 0)
            close(fd);
        return -ENOMEM;
    }
    return 0;
}

/* A launched guest process takes over the agent connection its library user opened (-1: none
 * could be opened, calls answer -EIO). */
static int hc_accel_adopt(struct funk_vm *vm, int fd)
{
    if (vm->accel != NULL)
        return -EALREADY;
    if (!vm->img.has_accel)
        return 0;
    vm->accel = accel_new(fd);
    return vm->accel ? 0 : -ENOMEM;
}

static int *hc_accel_fd(struct funk_vm *vm)
{
    struct vm_accel *x = vm->accel;
    return x && x->fd >= 0 ? &x->fd : NULL;
}

/* The module's whole sandbox: the one connected socket (made before the sandbox) at fd, polled
 * with timeouts; no other fd, no new socket, no file (the same on both backends). */
static int hc_accel_seccomp(void *scmp_ctx, int fd)
{
    scmp_filter_ctx ctx = scmp_ctx;
    scmp_datum_t d = (scmp_datum_t)fd;
    int rc = 0;
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1, SCMP_A0(SCMP_CMP_EQ, d));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvfrom), 1, SCMP_A0(SCMP_CMP_EQ, d));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(close), 1, SCMP_A0(SCMP_CMP_EQ, d));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(poll), 0);
    return rc ? -EINVAL : 0;
}

void hc_accel_free(struct funk_vm *vm)
{
    struct vm_accel *x = vm->accel;
    if (x == NULL)
        return;
    for (unsigned i = 0; i < ACCEL_MAX_RESOURCES; i++)
        if (x->ares[i])
            ag_res_free(x->ares[i]);
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

static const struct hc_fd_ops accel_fdops = {hc_accel_fd, hc_accel_adopt, hc_accel_seccomp};

const struct hc_module hc_accel_module = {"accel", hc_accel_setup, accel_calls, 1, &accel_fdops};
