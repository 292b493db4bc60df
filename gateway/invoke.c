/* SPDX-License-Identifier: Apache-2.0 */
/* funkd instances: the VM shell pool, per-request VMs, warm instances, the timeout watchdog. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <funk/abi/funk.h>
#include <funk/vm.h>

#include "gw.h"
#include "stdio_env.h"

#define CONSOLE_MAX (1u << 20) /* console bytes kept per call (the rest still reaches the logs) */

/* ---- VM shell pool and reaper --------------------------------------------------------------
 * Creating a shell (~0.4 ms here) and deleting one (~0.4 ms) both happen on this thread, off
 * the request path; a request only takes a ready shell and hands the spent one back. */
#define POOL_SIZES 8
#define POOL_MAX 64
struct shell_pool {
    size_t mem;
    unsigned flags;
    struct funk_vm *ready[POOL_MAX];
    int n;
};
static struct shell_pool pools[POOL_SIZES];
static int npools;
static struct funk_vm **reap_q;
static size_t reap_n, reap_cap;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static pthread_t pool_th, wd_th;
static int pool_running;
static int live_insts; /* instance threads still running (atomic) */

static struct shell_pool *pool_find(size_t mem, unsigned flags)
{
    for (int i = 0; i < npools; i++)
        if (pools[i].mem == mem && pools[i].flags == flags)
            return &pools[i];
    if (npools == POOL_SIZES)
        return NULL;
    pools[npools].mem = mem;
    pools[npools].flags = flags;
    pools[npools].n = 0;
    return &pools[npools++];
}

static void *pool_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool_mu);
    while (pool_running) {
        if (reap_n > 0) {
            struct funk_vm *vm = reap_q[--reap_n];
            pthread_mutex_unlock(&pool_mu);
            funk_vm_delete(vm);
            pthread_mutex_lock(&pool_mu);
            continue;
        }
        struct shell_pool *p = NULL;
        for (int i = 0; i < npools; i++)
            if (pools[i].n < (int)gw_cfg.pool_size) {
                p = &pools[i];
                break;
            }
        if (!p) {
            pthread_cond_wait(&pool_cv, &pool_mu);
            continue;
        }
        size_t mem = p->mem;
        unsigned flags = p->flags;
        pthread_mutex_unlock(&pool_mu);
        struct funk_vm *vm = NULL;
        int rc = funk_vm_shell_new(mem, flags, &vm);
        pthread_mutex_lock(&pool_mu);
        if (rc != 0) {
            gw_err("pool: cannot create a %zu MiB VM shell: %s", mem >> 20, strerror(-rc));
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&pool_cv, &pool_mu, &ts);
            continue;
        }
        p = pool_find(mem, flags);
        if (p && p->n < POOL_MAX)
            p->ready[p->n++] = vm;
        else
            funk_vm_delete(vm);
    }
    pthread_mutex_unlock(&pool_mu);
    return NULL;
}

static int shell_get(size_t mem, unsigned flags, struct funk_vm **out)
{
    pthread_mutex_lock(&pool_mu);
    struct shell_pool *p = pool_find(mem, flags);
    if (p && p->n > 0) {
        *out = p->ready[--p->n];
        pthread_cond_signal(&pool_cv);
        pthread_mutex_unlock(&pool_mu);
        return 0;
    }
    pthread_cond_signal(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
    return funk_vm_shell_new(mem, flags, out); /* pool empty: pay for it now */
}

/* A shell for one of fn's guests, with fn's limits for the guest's cgroup. */
static int fn_shell(const struct gw_function *fn, struct funk_vm **out)
{
    int rc = shell_get(fn->mem_bytes, fn->vm_flags, out);
    if (rc == 0 && fn->cpu_millicores) {
        struct funk_vm_limits lim = {.cpu_millicores = fn->cpu_millicores};
        (void)funk_vm_set_limits(*out, &lim); /* validated at deploy */
    }
    return rc;
}

static void shell_reap(struct funk_vm *vm)
{
    pthread_mutex_lock(&pool_mu);
    if (pool_running && reap_n == reap_cap) {
        size_t nc = reap_cap ? reap_cap * 2 : 64;
        struct funk_vm **nq = realloc(reap_q, nc * sizeof *nq);
        if (nq) {
            reap_q = nq;
            reap_cap = nc;
        }
    }
    if (pool_running && reap_n < reap_cap) {
        reap_q[reap_n++] = vm;
        pthread_cond_signal(&pool_cv);
        vm = NULL;
    }
    pthread_mutex_unlock(&pool_mu);
    if (vm)
        funk_vm_delete(vm);
}

/* ---- watchdog: kicks VMs that run past their deadline ------------------------------------ */
struct wd_entry {
    struct funk_vm *vm;
    double deadline; /* monotonic; 0 = not armed */
    int fired;
    struct wd_entry *prev, *next;
};
static struct wd_entry wd_head = {.prev = &wd_head, .next = &wd_head};
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;

static void wd_add(struct wd_entry *e, struct funk_vm *vm, double deadline)
{
    pthread_mutex_lock(&wd_mu);
    e->vm = vm;
    e->deadline = deadline;
    e->fired = 0;
    e->next = &wd_head;
    e->prev = wd_head.prev;
    wd_head.prev->next = e;
    wd_head.prev = e;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
}

static void wd_arm(struct wd_entry *e, double deadline)
{
    pthread_mutex_lock(&wd_mu);
    e->deadline = deadline;
    e->fired = 0;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
}

static int wd_del(struct wd_entry *e)
{
    pthread_mutex_lock(&wd_mu);
    e->prev->next = e->next;
    e->next->prev = e->prev;
    int fired = e->fired;
    pthread_mutex_unlock(&wd_mu);
    return fired;
}

static void *wd_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wd_mu);
    while (pool_running) {
        double now = gw_now(), next = now + 1.0;
        for (struct wd_entry *e = wd_head.next; e != &wd_head; e = e->next) {
            if (e->deadline <= 0 || e->fired)
                continue;
            if (e->deadline <= now) {
                e->fired = 1;
                funk_vm_kick(e->vm);
            } else if (e->deadline < next) {
                next = e->deadline;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double wait = next - now;
        ts.tv_sec += (time_t)wait;
        ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wd_cv, &wd_mu, &ts);
    }
    pthread_mutex_unlock(&wd_mu);
    return NULL;
}

int gw_pool_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd_cv, &ca);
    pthread_condattr_destroy(&ca);
    pool_running = 1;
    if (pthread_create(&pool_th, NULL, pool_main, NULL) != 0 ||
        pthread_create(&wd_th, NULL, wd_main, NULL) != 0)
        return -EAGAIN;
    return 0;
}

/* Shutdown: idle instances end at once (gw_stopping); calls in flight get `grace` seconds, then
 * every running guest is kicked; returns when no instance thread is left (or after 5 s more). */
void gw_instances_shutdown(double grace)
{
    double end = gw_now() + grace;
    while (__atomic_load_n(&live_insts, __ATOMIC_SEQ_CST) > 0 && gw_now() < end)
        usleep(10000);
    pthread_mutex_lock(&wd_mu);
    for (struct wd_entry *e = wd_head.next; e != &wd_head; e = e->next) {
        e->fired = 1;
        funk_vm_kick(e->vm);
    }
    pthread_mutex_unlock(&wd_mu);
    end = gw_now() + 5;
    while (__atomic_load_n(&live_insts, __ATOMIC_SEQ_CST) > 0 && gw_now() < end)
        usleep(10000);
    if (live_insts > 0)
        gw_warn("%d instance(s) still running at exit", live_insts);
}

void gw_pool_stop(void)
{
    pthread_mutex_lock(&pool_mu);
    pool_running = 0;
    pthread_cond_broadcast(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
    pthread_mutex_lock(&wd_mu);
    pthread_cond_broadcast(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
    pthread_join(pool_th, NULL);
    pthread_join(wd_th, NULL);
    for (int i = 0; i < npools; i++)
        while (pools[i].n > 0)
            funk_vm_delete(pools[i].ready[--pools[i].n]);
    while (reap_n > 0)
        funk_vm_delete(reap_q[--reap_n]);
    free(reap_q);
}

/* ---- shared pieces of a run --------------------------------------------------------------- */

/* Console output: kept (bounded) for console-mode responses and split into log lines. */
struct console_buf {
    const char *fn_key;
    const char *inst;
    char *data;
    size_t len, cap;
    char line[GW_LOG_LINE_MAX];
    size_t line_len;
};

static void console_add(struct console_buf *cb, const char *data, size_t len)
{
    if (cb->len < CONSOLE_MAX) {
        size_t take = len < CONSOLE_MAX - cb->len ? len : CONSOLE_MAX - cb->len;
        if (cb->len + take > cb->cap) {
            size_t nc = cb->cap ? cb->cap : 4096;
            while (nc < cb->len + take)
                nc *= 2;
            char *nd = realloc(cb->data, nc);
            if (nd) {
                cb->data = nd;
                cb->cap = nc;
            }
        }
        if (cb->len + take <= cb->cap) {
            memcpy(cb->data + cb->len, data, take);
            cb->len += take;
        }
    }
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' || cb->line_len == sizeof cb->line) {
            gw_logs_add(cb->fn_key, cb->inst, cb->line, cb->line_len);
            cb->line_len = 0;
            if (data[i] == '\n')
                continue;
        }
        cb->line[cb->line_len++] = data[i];
    }
}

static void console_flush(struct console_buf *cb)
{
    if (cb->line_len)
        gw_logs_add(cb->fn_key, cb->inst, cb->line, cb->line_len);
    cb->line_len = 0;
}

/* Environment of an instance: envVars, then each secret under its own name. */
static char **build_env(struct gw_function *fn)
{
    size_t ne = 0, ns = 0;
    while (fn->env && fn->env[ne])
        ne++;
    while (fn->secrets && fn->secrets[ns])
        ns++;
    char **env = calloc(ne + ns + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        env[k++] = strdup(fn->env[i]);
    for (size_t i = 0; i < ns; i++) {
        char *v = gw_secret_get(fn->secrets[i], fn->ns);
        if (!v)
            continue; /* deleted since deploy: the guest sees it missing */
        size_t l = strlen(fn->secrets[i]) + strlen(v) + 2;
        env[k] = malloc(l);
        if (env[k]) {
            snprintf(env[k], l, "%s=%s", fn->secrets[i], v);
            k++;
        }
        free(v);
    }
    return env;
}

/* A stdio function's environment: its envVars, then the request as OpenFaaS's classic watchdog
 * gives it (oci/stdio_env.h, shared with funk-watchdog and funk-runtime). Secrets are files,
 * not variables (see stdio_files). */
static char **build_stdio_env(struct gw_function *fn, const struct gw_call *c)
{
    size_t ne = 0, nh = 0;
    while (fn->env && fn->env[ne])
        ne++;
    for (size_t i = 0; i < c->headers_len; i++)
        nh += c->headers[i] == '\n';
    char **env = calloc(ne + nh + STDIO_ENV_REQUEST_MAX + 2, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if ((env[k] = strdup(fn->env[i])))
            k++;
    k += stdio_env_request(env + k, c->method, c->path, c->query, c->body_len);
    const char *p = c->headers, *end = c->headers + c->headers_len;
    while (p && p < end && k < ne + nh + STDIO_ENV_REQUEST_MAX + 1) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon && colon > p) {
            const char *v = colon + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            char *e = stdio_env_header(p, (size_t)(colon - p), v, (size_t)(line_end - v));
            if (e)
                env[k++] = e;
        }
        p = nl ? nl + 1 : end;
    }
    return env;
}

/* A stdio function's secrets, as files at /var/openfaas/secrets/NAME (OpenFaaS's place). */
static struct funk_vm_file *stdio_files(struct gw_function *fn, size_t *n)
{
    size_t ns = 0;
    *n = 0;
    while (fn->secrets && fn->secrets[ns])
        ns++;
    struct funk_vm_file *f = ns ? calloc(ns, sizeof *f) : NULL;
    for (size_t i = 0; f && i < ns; i++) {
        char *v = gw_secret_get(fn->secrets[i], fn->ns);
        char *path = NULL;
        if (!v)
            continue; /* deleted since deploy: the guest finds no file */
        if (asprintf(&path, "/var/openfaas/secrets/%s", fn->secrets[i]) < 0) {
            free(v);
            continue;
        }
        f[*n] = (struct funk_vm_file){.path = path, .data = v, .len = strlen(v)};
        (*n)++;
    }
    return f;
}

static void free_files(struct funk_vm_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)f[i].path);
        free((void *)f[i].data);
    }
    free(f);
}

static void free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

static void set_reason(struct gw_call *c, unsigned status, const char *fmt, const char *arg)
{
    c->status = status;
    snprintf(c->reason, sizeof c->reason, fmt, arg);
}

static int copy_response(struct gw_call *c, const struct funk_vm_response *r)
{
    free(c->resp_headers);
    free(c->resp_body);
    c->resp_headers = c->resp_body = NULL;
    c->resp_headers_len = c->resp_body_len = 0;
    /* the sizes come from the guest (through the library): funkd's own caps, checked before any
     * size is added to, so that + 1 cannot wrap */
    if (r->headers_len > GW_RESP_HEADERS_MAX || (r->headers_len && !r->headers)) {
        c->status = 502;
        snprintf(c->reason, sizeof c->reason,
                 "function response headers of %zu bytes are over funkd's limit of %u bytes",
                 r->headers_len, GW_RESP_HEADERS_MAX);
        return 0;
    }
    if (r->body_len > gw_cfg.max_response || (r->body_len && !r->body)) {
        c->status = 502;
        snprintf(c->reason, sizeof c->reason,
                 "function response body of %zu bytes is over the limit of %zu bytes "
                 "(funkd --max-response)",
                 r->body_len, gw_cfg.max_response);
        return 0;
    }
    c->resp_headers = malloc(r->headers_len + 1);
    c->resp_body = malloc(r->body_len + 1);
    if (!c->resp_headers || !c->resp_body)
        return -ENOMEM;
    if (r->headers_len)
        memcpy(c->resp_headers, r->headers, r->headers_len);
    c->resp_headers[r->headers_len] = '\0';
    c->resp_headers_len = r->headers_len;
    if (r->body_len)
        memcpy(c->resp_body, r->body, r->body_len);
    c->resp_body[r->body_len] = '\0';
    c->resp_body_len = r->body_len;
    c->status = r->status;
    return 0;
}

static void fill_vm_request(const struct gw_call *c, struct funk_vm_request *req)
{
    req->method = c->method;
    req->path = c->path;
    req->query = c->query;
    req->headers = c->headers;
    req->headers_len = c->headers_len;
    req->body = c->body;
    req->body_len = c->body_len;
    req->id = c->id;
}

/* A failed run without a response becomes 502 (or 504 after a kick) with a short reason. */
static void failed_run(struct gw_call *c, const struct funk_vm_result *res, int timed_out)
{
    if (timed_out || res->exit == FUNK_VM_EXIT_TIMEOUT) {
        set_reason(c, 504, "function timed out%s", "");
    } else if (res->exit == FUNK_VM_EXIT_HALT) {
        c->status = 502;
        snprintf(c->reason, sizeof c->reason, "function exited with status %d without a response",
                 res->status);
    } else {
        set_reason(c, 502, "function crashed: %s", res->reason);
    }
}

/* ---- per-request mode: a fresh VM for every call ------------------------------------------ */
/* A fresh-VM call run on its own thread, so that the caller can answer as soon as the guest
 * has sent its response while the guest's exit and teardown go on (see run_detached). */
struct run_job {
    struct gw_function *fn;
    struct gw_call *c;
    void (*run)(struct gw_function *, struct gw_call *);
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int answered; /* the response is in c: the caller may go (c is then off limits here) */
    int finished;
    int refs;
};
static __thread struct run_job *cur_job;

static void job_put(struct run_job *j)
{
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
}

struct pr_ctx {
    struct gw_call *c;
    struct run_job *job; /* NULL when run on the caller's thread */
    int given, sent;
    double t0;
    struct console_buf con;
};

static int pr_recv(void *opaque, struct funk_vm_request *req)
{
    struct pr_ctx *x = opaque;
    if (x->given)
        return 1;
    x->given = 1;
    x->c->boot = gw_now() - x->t0;
    gw_metrics_boot(x->c->boot);
    fill_vm_request(x->c, req);
    return 0;
}

static int pr_send(void *opaque, const struct funk_vm_response *r)
{
    struct pr_ctx *x = opaque;
    if (x->sent)
        return -EINVAL;
    x->sent = 1;
    int rc = copy_response(x->c, r);
    if (x->job) {
        /* hand the answer over now; the guest's exit and teardown need not delay it */
        pthread_mutex_lock(&x->job->mu);
        x->job->answered = 1;
        pthread_cond_signal(&x->job->cv);
        pthread_mutex_unlock(&x->job->mu);
        x->c = NULL;
    }
    return rc;
}

static void pr_console(void *opaque, const char *data, size_t len)
{
    console_add(&((struct pr_ctx *)opaque)->con, data, len);
}

static void learned_serving(struct gw_function *fn, int asked, int halted);

static void invoke_per_request(struct gw_function *fn, struct gw_call *c)
{
    struct funk_vm *vm = NULL;
    char inst[GW_NAME_MAX + 24];
    snprintf(inst, sizeof inst, "%s-%llu", fn->name, (unsigned long long)c->id);
    struct pr_ctx x = {.c = c, .job = cur_job, .con = {.fn_key = fn->key, .inst = inst}};
    x.t0 = gw_now();
    int rc = fn_shell(fn, &vm);
    if (rc != 0) {
        set_reason(c, 503, "no VM available: %s", strerror(-rc));
        return;
    }
    char *cmdline = NULL;
    if (fn->console) {
        if (c->body_len >= HVT_CMDLINE_SIZE || memchr(c->body, '\0', c->body_len)) {
            shell_reap(vm);
            set_reason(c, c->body_len >= HVT_CMDLINE_SIZE ? 413 : 400,
                       "console-mode functions take a text body of at most 8191 bytes%s", "");
            return;
        }
        cmdline = strndup(c->body ? c->body : "", c->body_len);
    }
    /* plain Solo5 guests take no env; stdio programs get the request in theirs */
    char **env = fn->stdio ? build_stdio_env(fn, c) : fn->funk_guest ? build_env(fn) : NULL;
    size_t nfiles = 0;
    struct funk_vm_file *files = fn->stdio ? stdio_files(fn, &nfiles) : NULL;
    struct funk_vm_boot boot = {.cmdline = cmdline,
                                .env = (const char *const *)env,
                                .argv = (const char *const *)fn->argv, /* Linux guests */
                                .files = files,
                                .nfiles = nfiles};
    rc = funk_vm_load(vm, fn->elf, fn->elf_len, &boot);
    free(cmdline);
    free_env(env);
    free_files(files, nfiles);
    if (rc != 0) {
        set_reason(c, 502, "function image refused: %s", funk_vm_error(vm));
        shell_reap(vm);
        return;
    }
    struct funk_vm_io io = {
        .recv = fn->console ? NULL : pr_recv, .send = pr_send, .console = pr_console, .opaque = &x};
    struct wd_entry wd;
    wd_add(&wd, vm, gw_now() + fn->timeout);
    struct funk_vm_result res;
    memset(&res, 0, sizeof res);
    rc = funk_vm_run(vm, &io, &res);
    int kicked = wd_del(&wd);
    shell_reap(vm);
    console_flush(&x.con);
    if (rc == 0 && !fn->console && fn->preboot && fn->mode == GW_MODE_PER_REQUEST)
        learned_serving(fn, x.given, res.exit == FUNK_VM_EXIT_HALT && !kicked);
    if (rc != 0) {
        set_reason(c, 502, "cannot run the function: %s", strerror(-rc));
    } else if (x.sent) {
        if (res.exit != FUNK_VM_EXIT_HALT)
            gw_warn("%s: %s after its response", fn->key, res.reason);
    } else if (!x.given && res.exit == FUNK_VM_EXIT_HALT && !kicked) {
        /* console mode (or a funk guest that never asked for a request): output is the answer */
        c->status = res.status == 0 ? 200 : 502;
        free(c->resp_body);
        c->resp_body = NULL;
        c->resp_body_len = 0;
        if (res.status != 0) {
            /* the reason first, then what the guest printed (often why it failed) */
            snprintf(c->reason, sizeof c->reason, "function exited with status %d\n", res.status);
            size_t rl = strlen(c->reason);
            c->resp_body = malloc(rl + x.con.len + 1);
            if (c->resp_body) {
                memcpy(c->resp_body, c->reason, rl);
                if (x.con.len)
                    memcpy(c->resp_body + rl, x.con.data, x.con.len);
                c->resp_body_len = rl + x.con.len;
                c->resp_body[c->resp_body_len] = '\0';
            }
            c->reason[rl - 1] = '\0';
        } else {
            c->resp_body = x.con.data ? x.con.data : strdup("");
            c->resp_body_len = x.con.len;
            x.con.data = NULL;
        }
        free(c->resp_headers);
        c->resp_headers = strdup("Content-Type: text/plain\n");
        c->resp_headers_len = c->resp_headers ? strlen(c->resp_headers) : 0;
    } else {
        failed_run(c, &res, kicked);
    }
    free(x.con.data);
}

/* ---- snapshot mode: every call restores the guest as it was at its first FN_RECV ---------- */
struct gw_snap {
    struct funk_vm_snapshot *s;
    struct funk_vm *tpl; /* the shell it was taken in, kept as long as the snapshot */
    int refs;            /* the function's own + calls restoring from it (atomic) */
    int gen;             /* gw_secrets_gen of the environment baked into it */
};

void gw_snap_release(struct gw_snap *s)
{
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_SEQ_CST) > 0)
        return;
    funk_vm_snapshot_delete(s->s);
    if (s->tpl)
        shell_reap(s->tpl);
    free(s);
}

static void snap_console(void *opaque, const char *data, size_t len)
{
    console_add(opaque, data, len);
}

int gw_fn_snapshot(struct gw_function *fn, char *err, size_t errlen)
{
    if (!fn->funk_guest) {
        snprintf(err, errlen, "snapshots need a funk guest (FN_RECV), not a plain Solo5 one");
        return -ENOTSUP;
    }
    struct funk_vm *vm = NULL;
    int rc = fn_shell(fn, &vm);
    if (rc != 0) {
        snprintf(err, errlen, "no VM available: %s", strerror(-rc));
        return rc;
    }
    int gen = __atomic_load_n(&gw_secrets_gen, __ATOMIC_SEQ_CST);
    char **env = build_env(fn);
    struct funk_vm_boot boot = {.env = (const char *const *)env,
                                .argv = (const char *const *)fn->argv};
    rc = funk_vm_load(vm, fn->elf, fn->elf_len, &boot);
    free_env(env);
    if (rc != 0) {
        snprintf(err, errlen, "function image refused: %s", funk_vm_error(vm));
        shell_reap(vm);
        return rc;
    }
    char inst[GW_NAME_MAX + 24];
    snprintf(inst, sizeof inst, "%s-snapshot", fn->name);
    struct console_buf con = {.fn_key = fn->key, .inst = inst};
    struct funk_vm_io io = {.console = snap_console, .opaque = &con};
    struct funk_vm_result res;
    memset(&res, 0, sizeof res);
    struct wd_entry wd;
    wd_add(&wd, vm, gw_now() + fn->timeout); /* a guest that never asks for a request */
    struct funk_vm_snapshot *s = NULL;
    rc = funk_vm_snapshot_new(vm, &io, &res, &s);
    int kicked = wd_del(&wd);
    console_flush(&con);
    free(con.data);
    if (rc != 0) {
        if (rc == -ECHILD)
            snprintf(err, errlen, "the guest ended before asking for a request (%s)",
                     kicked          ? "timed out"
                     : res.reason[0] ? res.reason
                                     : "halted");
        else if (rc == -ENOTSUP)
            snprintf(err, errlen, "this guest cannot be snapshot (devices, or no funk note)");
        else
            snprintf(err, errlen, "cannot take the snapshot: %s", strerror(-rc));
        shell_reap(vm);
        return rc;
    }
    struct gw_snap *gs = calloc(1, sizeof *gs);
    if (!gs) {
        funk_vm_snapshot_delete(s);
        shell_reap(vm);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    gs->s = s;
    gs->tpl = vm;
    gs->refs = 1;
    gs->gen = gen;
    pthread_mutex_lock(&fn->mu);
    struct gw_snap *old = fn->snap;
    fn->snap = gs;
    pthread_mutex_unlock(&fn->mu);
    gw_snap_release(old);
    return 0;
}

static void invoke_snapshot(struct gw_function *fn, struct gw_call *c)
{
    pthread_mutex_lock(&fn->mu);
    int stale = fn->snap && fn->snap->gen != __atomic_load_n(&gw_secrets_gen, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&fn->mu);
    if (stale) { /* secrets changed since the snapshot: take a new one */
        char err[400];
        if (gw_fn_snapshot(fn, err, sizeof err) != 0)
            gw_warn("%s: cannot renew the snapshot: %s", fn->key, err);
    }
    pthread_mutex_lock(&fn->mu);
    struct gw_snap *s = fn->snap;
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&fn->mu);
    if (!s) {
        set_reason(c, 503, "the function has no snapshot%s", "");
        return;
    }
    struct funk_vm *vm = NULL;
    char inst[GW_NAME_MAX + 24];
    snprintf(inst, sizeof inst, "%s-%llu", fn->name, (unsigned long long)c->id);
    struct pr_ctx x = {.c = c, .job = cur_job, .con = {.fn_key = fn->key, .inst = inst}};
    x.t0 = gw_now();
    int rc = fn_shell(fn, &vm);
    if (rc == 0 && (rc = funk_vm_restore(vm, s->s)) != 0) {
        shell_reap(vm);
        vm = NULL;
    }
    gw_snap_release(s);
    if (rc != 0) {
        set_reason(c, 503, "cannot restore the snapshot: %s", strerror(-rc));
        return;
    }
    struct funk_vm_io io = {.recv = pr_recv, .send = pr_send, .console = pr_console, .opaque = &x};
    struct wd_entry wd;
    wd_add(&wd, vm, gw_now() + fn->timeout);
    struct funk_vm_result res;
    memset(&res, 0, sizeof res);
    rc = funk_vm_run(vm, &io, &res);
    int kicked = wd_del(&wd);
    shell_reap(vm);
    console_flush(&x.con);
    if (rc != 0)
        set_reason(c, 502, "cannot run the function: %s", strerror(-rc));
    else if (!x.sent)
        failed_run(c, &res, kicked);
    else if (res.exit != FUNK_VM_EXIT_HALT)
        gw_warn("%s: %s after its response", fn->key, res.reason);
    free(x.con.data);
}

/* ---- warm mode: instances that loop on FN_RECV -------------------------------------------- */
struct gw_req {
    struct gw_call *c;
    struct gw_req *next;
    int started, done;
    int retry; /* no pre-booted guest could take it: boot one for it the classic way */
    pthread_cond_t cv;
};

struct gw_inst {
    struct gw_function *fn;
    struct funk_vm *vm;
    struct gw_req *cur;
    int stop, booted;
    int served; /* one-shot (pre-booted per-request) instances serve a single call */
    int gen;    /* gw_secrets_gen when its environment was built */
    double t0, idle_since;
    char name[GW_NAME_MAX + 24];
    struct wd_entry wd;
    struct console_buf con;
    struct gw_inst *next;
};

static void req_done(struct gw_req *r)
{
    r->done = 1;
    pthread_cond_signal(&r->cv);
}

static int oneshot(const struct gw_function *fn)
{
    return fn->mode == GW_MODE_PER_REQUEST;
}

static int warm_keep(const struct gw_function *fn)
{
    if (oneshot(fn))
        return fn->no_preboot ? 0 : fn->preboot;
    return fn->scale_min > fn->replicas ? fn->scale_min : fn->replicas;
}

/* Instances a function may have at once: warm ones up to scale.max, one-shot ones for bursts. */
static int inst_cap(const struct gw_function *fn)
{
    return oneshot(fn) ? fn->preboot + 64 : fn->scale_max;
}

static int inst_spawn_locked(struct gw_function *fn);

/* Instances not already on their way out: ninst drops only in inst_remove, so instances that
 * went idle together would each see the others and all leave, below scale.min. fn->mu held. */
static int staying_instances(const struct gw_function *fn)
{
    int live = 0;
    for (const struct gw_inst *o = fn->insts; o; o = o->next)
        live += !o->stop;
    return live;
}

static int warm_recv(void *opaque, struct funk_vm_request *req)
{
    struct gw_inst *in = opaque;
    struct gw_function *fn = in->fn;
    pthread_mutex_lock(&fn->mu);
    if (!in->booted) {
        in->booted = 1;
        wd_arm(&in->wd, 0); /* booted within its deadline */
        gw_metrics_boot(gw_now() - in->t0);
        fn->nstarting--;
    }
    if (in->cur) { /* asked for the next request without answering this one */
        wd_arm(&in->wd, 0);
        set_reason(in->cur->c, 502, "function asked for the next request without answering%s", "");
        req_done(in->cur);
        in->cur = NULL;
    }
    if (oneshot(fn) && in->served) {
        pthread_mutex_unlock(&fn->mu);
        return 1; /* its one call is done: the guest ends and is torn down off the hot path */
    }
    fn->nidle++;
    in->idle_since = gw_now();
    int rc = 1;
    for (;;) {
        if (in->gen != __atomic_load_n(&gw_secrets_gen, __ATOMIC_SEQ_CST))
            break; /* booted with old secrets: a fresh instance takes over */
        /* queued calls first: a redeploy or scale-down must not strand them */
        if (fn->qhead) {
            struct gw_req *r = fn->qhead;
            fn->qhead = r->next;
            if (!fn->qhead)
                fn->qtail = NULL;
            r->started = 1;
            in->cur = r;
            in->served = 1;
            fill_vm_request(r->c, req);
            wd_arm(&in->wd, gw_now() + fn->timeout);
            rc = 0;
            /* the pool refills when this instance has ended (inst_main), not now: booting a
             * guest forks funkd, which stalls its other threads while this call is answered */
            break;
        }
        if (in->stop || gw_stopping || fn->deleted)
            break;
        double idle_end = in->idle_since + fn->idle_timeout;
        if (gw_now() >= idle_end) {
            if (staying_instances(fn) > warm_keep(fn)) {
                in->stop = 1; /* counted as leaving from now on, before inst_remove */
                break;        /* scale down, eventually to zero */
            }
            in->idle_since = gw_now();
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double wait = idle_end - gw_now();
        if (wait > 1.0)
            wait = 1.0;
        if (wait < 0.001)
            wait = 0.001;
        ts.tv_nsec += (long)(wait * 1e9);
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&fn->cv, &fn->mu, &ts);
    }
    fn->nidle--;
    pthread_mutex_unlock(&fn->mu);
    return rc;
}

static int warm_send(void *opaque, const struct funk_vm_response *r)
{
    struct gw_inst *in = opaque;
    struct gw_function *fn = in->fn;
    pthread_mutex_lock(&fn->mu);
    int rc = -EINVAL;
    if (in->cur) {
        wd_arm(&in->wd, 0);
        rc = copy_response(in->cur->c, r);
        req_done(in->cur);
        in->cur = NULL;
    }
    pthread_mutex_unlock(&fn->mu);
    return rc;
}

static void warm_console(void *opaque, const char *data, size_t len)
{
    struct gw_inst *in = opaque;
    /* warm instances do not answer with their console: keep only the log lines */
    in->con.len = 0;
    console_add(&in->con, data, len);
}

static void inst_remove(struct gw_function *fn, struct gw_inst *in)
{
    for (struct gw_inst **p = &fn->insts; *p; p = &(*p)->next)
        if (*p == in) {
            *p = in->next;
            break;
        }
    fn->ninst--;
}

static int inst_spawn_locked(struct gw_function *fn);

static void *inst_main(void *arg)
{
    struct gw_inst *in = arg;
    struct gw_function *fn = in->fn;
    struct funk_vm_result res;
    memset(&res, 0, sizeof res);
    char err[300] = "";
    int rc = fn_shell(fn, &in->vm);
    if (rc == 0) {
        in->gen = __atomic_load_n(&gw_secrets_gen, __ATOMIC_SEQ_CST);
        char **env = build_env(fn);
        struct funk_vm_boot boot = {.env = (const char *const *)env,
                                .argv = (const char *const *)fn->argv};
        rc = funk_vm_load(in->vm, fn->elf, fn->elf_len, &boot);
        free_env(env);
        if (rc != 0)
            snprintf(err, sizeof err, "function image refused: %s", funk_vm_error(in->vm));
    } else {
        snprintf(err, sizeof err, "no VM available: %s", strerror(-rc));
    }
    if (rc == 0) {
        struct funk_vm_io io = {
            .recv = warm_recv, .send = warm_send, .console = warm_console, .opaque = in};
        wd_add(&in->wd, in->vm, gw_now() + fn->timeout); /* boot deadline, disarmed at boot */
        rc = funk_vm_run(in->vm, &io, &res);
        int kicked = wd_del(&in->wd);
        if (rc != 0)
            snprintf(err, sizeof err, "cannot run the function: %s", strerror(-rc));
        else if (kicked)
            res.exit = FUNK_VM_EXIT_TIMEOUT;
        console_flush(&in->con);
    }
    if (in->vm)
        shell_reap(in->vm);
    pthread_mutex_lock(&fn->mu);
    if (!in->booted)
        fn->nstarting--;
    if (in->cur) {
        if (err[0])
            set_reason(in->cur->c, 502, "%s", err);
        else
            failed_run(in->cur->c, &res, 0);
        req_done(in->cur);
        in->cur = NULL;
    } else if (oneshot(fn) && !in->booted) {
        /* a guest that does not reach FN_RECV (console-style, or broken) cannot be pre-booted:
         * its calls, now and later, boot a VM each the classic way, which reports properly */
        fn->no_preboot = 1;
        while (fn->qhead) {
            struct gw_req *r = fn->qhead;
            fn->qhead = r->next;
            r->retry = 1;
            req_done(r);
        }
        fn->qtail = NULL;
    } else if (err[0] || (!in->booted && res.exit != FUNK_VM_EXIT_HALT)) {
        /* it never got to serve: fail the waiting calls rather than boot-looping */
        while (fn->qhead) {
            struct gw_req *r = fn->qhead;
            fn->qhead = r->next;
            r->started = 1;
            if (err[0])
                set_reason(r->c, 502, "%s", err);
            else
                failed_run(r->c, &res, 0);
            req_done(r);
        }
        fn->qtail = NULL;
    }
    if (res.exit != FUNK_VM_EXIT_HALT && !err[0])
        gw_warn("%s: instance %s ended: %s", fn->key, in->name, res.reason);
    inst_remove(fn, in);
    /* calls still queued need someone to serve them; pre-booted pools refill */
    if (!fn->deleted && !gw_stopping && fn->ninst < inst_cap(fn) &&
        ((fn->qhead && fn->nidle + fn->nstarting == 0) ||
         (oneshot(fn) && !fn->no_preboot && !in->stop && fn->nidle + fn->nstarting < fn->preboot)))
        inst_spawn_locked(fn);
    pthread_cond_broadcast(&fn->cv);
    pthread_mutex_unlock(&fn->mu);
    free(in->con.data);
    free(in);
    gw_fn_put(fn);
    __atomic_sub_fetch(&live_insts, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Caller holds fn->mu. */
static int inst_spawn_locked(struct gw_function *fn)
{
    struct gw_inst *in = calloc(1, sizeof *in);
    if (!in)
        return -ENOMEM;
    in->fn = fn;
    in->t0 = gw_now();
    snprintf(in->name, sizeof in->name, "%s-%llu", fn->name, (unsigned long long)++fn->next_inst);
    in->con.fn_key = fn->key;
    in->con.inst = in->name;
    gw_fn_ref(fn);
    __atomic_add_fetch(&live_insts, 1, __ATOMIC_SEQ_CST);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    if (pthread_create(&th, &at, inst_main, in) != 0) {
        pthread_attr_destroy(&at);
        free(in);
        gw_fn_put(fn);
        __atomic_sub_fetch(&live_insts, 1, __ATOMIC_SEQ_CST);
        return -EAGAIN;
    }
    pthread_attr_destroy(&at);
    in->next = fn->insts;
    fn->insts = in;
    fn->ninst++;
    fn->nstarting++;
    return 0;
}

void gw_fn_ensure_instances(struct gw_function *fn)
{
    if (fn->mode != GW_MODE_WARM && !fn->preboot)
        return;
    pthread_mutex_lock(&fn->mu);
    if (oneshot(fn) && !fn->serves) { /* not before a call has shown it asks for requests */
        pthread_mutex_unlock(&fn->mu);
        return;
    }
    int want = warm_keep(fn);
    if (want > inst_cap(fn))
        want = inst_cap(fn);
    while (fn->ninst < want && inst_spawn_locked(fn) == 0)
        ;
    pthread_mutex_unlock(&fn->mu);
}

void gw_fn_stop_instances(struct gw_function *fn, int keep)
{
    pthread_mutex_lock(&fn->mu);
    int n = 0;
    for (struct gw_inst *in = fn->insts; in; in = in->next)
        if (!in->stop && n++ >= keep)
            in->stop = 1;
    pthread_cond_broadcast(&fn->cv);
    pthread_mutex_unlock(&fn->mu);
}

/* After a per-request call booted on the call: a guest that asked for its request serves
 * requests, and from now on guests are booted ahead for it; one that ran to its end without
 * asking (console-style) is booted per call for good. */
static void learned_serving(struct gw_function *fn, int asked, int halted)
{
    pthread_mutex_lock(&fn->mu);
    int start = asked && !fn->serves && !fn->no_preboot && !fn->deleted;
    if (asked)
        fn->serves = 1;
    else if (halted && !fn->serves)
        fn->no_preboot = 1;
    pthread_mutex_unlock(&fn->mu);
    if (start) {
        gw_dbg("%s: its guest asks for requests: booting %d ahead from now on", fn->key,
               fn->preboot);
        gw_fn_ensure_instances(fn);
    }
}

static void invoke_warm(struct gw_function *fn, struct gw_call *c)
{
    struct gw_req r = {.c = c};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&fn->mu);
    if (fn->max_inflight > 0 && fn->inflight >= fn->max_inflight) {
        pthread_mutex_unlock(&fn->mu);
        pthread_cond_destroy(&r.cv);
        c->status = 429;
        snprintf(c->reason, sizeof c->reason,
                 "Concurrent request limit exceeded. Max concurrent requests: %d",
                 fn->max_inflight);
        return;
    }
    if (oneshot(fn) && fn->nidle == 0) {
        /* no pre-booted guest is ready: boot one for this call now rather than queue behind
         * the refills (which go on in the background) */
        if (!fn->no_preboot && fn->nstarting < fn->preboot && fn->ninst < inst_cap(fn))
            inst_spawn_locked(fn);
        fn->inflight++;
        pthread_mutex_unlock(&fn->mu);
        pthread_cond_destroy(&r.cv);
        gw_dbg("%s: call %s: no pre-booted guest ready, booting one", fn->key, c->call_id);
        invoke_per_request(fn, c);
        pthread_mutex_lock(&fn->mu);
        fn->inflight--;
        pthread_mutex_unlock(&fn->mu);
        return;
    }
    fn->inflight++;
    if (fn->qtail)
        fn->qtail->next = &r;
    else
        fn->qhead = &r;
    fn->qtail = &r;
    int queued = 0;
    for (struct gw_req *q = fn->qhead; q; q = q->next)
        queued++;
    if (queued > fn->nidle + fn->nstarting && fn->ninst < inst_cap(fn))
        inst_spawn_locked(fn);
    pthread_cond_broadcast(&fn->cv);
    /* a queued call waits at most its timeout for an instance; a started one until it ends */
    double deadline = gw_now() + fn->timeout;
    while (!r.done) {
        if (!r.started && gw_now() >= deadline) {
            for (struct gw_req **p = &fn->qhead; *p; p = &(*p)->next)
                if (*p == &r) {
                    *p = r.next;
                    break;
                }
            fn->qtail = NULL;
            for (struct gw_req *q = fn->qhead; q; q = q->next)
                fn->qtail = q;
            set_reason(c, 504, "no instance became free within the timeout%s", "");
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 50 * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&r.cv, &fn->mu, &ts);
    }
    fn->inflight--;
    pthread_mutex_unlock(&fn->mu);
    pthread_cond_destroy(&r.cv);
    if (r.retry)
        invoke_per_request(fn, c);
}

static void *job_main(void *arg)
{
    struct run_job *j = arg;
    cur_job = j;
    j->run(j->fn, j->c);
    cur_job = NULL;
    pthread_mutex_lock(&j->mu);
    j->finished = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    gw_fn_put(j->fn);
    job_put(j);
    __atomic_sub_fetch(&live_insts, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Runs a fresh-VM call on a new thread and returns once its response is in c (or it ended). */
static void run_detached(struct gw_function *fn, struct gw_call *c,
                         void (*run)(struct gw_function *, struct gw_call *))
{
    struct run_job *j = calloc(1, sizeof *j);
    pthread_attr_t at;
    pthread_t th;
    if (!j) {
        run(fn, c);
        return;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->fn = fn;
    j->c = c;
    j->run = run;
    j->refs = 2;
    gw_fn_ref(fn);
    __atomic_add_fetch(&live_insts, 1, __ATOMIC_SEQ_CST);
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, job_main, j) != 0) {
        pthread_attr_destroy(&at);
        __atomic_sub_fetch(&live_insts, 1, __ATOMIC_SEQ_CST);
        gw_fn_put(fn);
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
        run(fn, c);
        return;
    }
    pthread_attr_destroy(&at);
    pthread_mutex_lock(&j->mu);
    while (!j->answered && !j->finished)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    job_put(j);
}

void gw_invoke(struct gw_function *fn, struct gw_call *c)
{
    double t0 = gw_now();
    c->status = 0;
    c->reason[0] = '\0';
    gw_metrics_started(fn->key);
    pthread_mutex_lock(&fn->mu);
    int booted_ahead = oneshot(fn) && fn->serves && fn->preboot && !fn->no_preboot;
    pthread_mutex_unlock(&fn->mu);
    if (fn->mode == GW_MODE_WARM || (!fn->exec_path && booted_ahead)) {
        invoke_warm(fn, c); /* queues, counts and limits its calls itself */
    } else {
        pthread_mutex_lock(&fn->mu);
        int over = fn->max_inflight > 0 && fn->inflight >= fn->max_inflight;
        if (!over)
            fn->inflight++;
        pthread_mutex_unlock(&fn->mu);
        if (over) {
            c->status = 429;
            snprintf(c->reason, sizeof c->reason,
                     "Concurrent request limit exceeded. Max concurrent requests: %d",
                     fn->max_inflight);
        } else {
            if (fn->exec_path)
                gw_exec_invoke(fn, c);
            else if (fn->mode == GW_MODE_SNAPSHOT)
                run_detached(fn, c, invoke_snapshot);
            else
                run_detached(fn, c, invoke_per_request);
            pthread_mutex_lock(&fn->mu);
            fn->inflight--;
            pthread_mutex_unlock(&fn->mu);
        }
    }
    c->duration = gw_now() - t0;
    pthread_mutex_lock(&fn->mu);
    fn->invocations++;
    pthread_mutex_unlock(&fn->mu);
    gw_metrics_done(fn->key, c->status, c->duration);
    if (c->status >= 500)
        gw_info("%s: call %s: %u %s", fn->key, c->call_id, c->status, c->reason);
}

void gw_call_free(struct gw_call *c)
{
    free(c->resp_headers);
    free(c->resp_body);
    c->resp_headers = c->resp_body = NULL;
}

int gw_pool_ready(void)
{
    int n = 0;
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < npools; i++)
        n += pools[i].n;
    pthread_mutex_unlock(&pool_mu);
    return n;
}

void gw_fn_instances(struct gw_function *fn, int *idle, int *busy)
{
    pthread_mutex_lock(&fn->mu);
    *idle = fn->nidle;
    *busy = fn->ninst - fn->nidle - fn->nstarting;
    pthread_mutex_unlock(&fn->mu);
}
