/* SPDX-License-Identifier: Apache-2.0 */
/* funk-runtime: a stdio image served as a classic-watchdog function, each request a Linux guest. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <funk/vm.h>

#include "runtime.h"
#include "watchdog.h"

/*
 * The container process of a stdio image whose environment names fprocess runs funk-watchdog's
 * loop (watchdog_main.c) in the container's network namespace. Where funk-watchdog would start
 * fprocess as a child process, each request here runs the image's static program under the
 * monitor's Linux personality (a fresh process-backend guest from the clean launcher): the body
 * is its stdin, its stdout the answer, exit 0 gives 200 and anything else 500, its stderr goes
 * to the container's log, and the request arrives in Http_* variables (oci/stdio_env.c, as
 * funkd gives them). The rootfs, read-only, is the guest's "/".
 */

#define ERR_MAX (64u << 10) /* stderr kept for a 500 answer's body */

static struct {
    const char *elf;
    size_t elf_len, mem;
    const char *bundle;
} g_st;

struct run_io {
    const char *body;
    size_t len;
    int served;
    char *out;
    size_t out_len;
    struct wd_proc_result *res;
    int echo;
};

static int st_recv(void *opaque, struct funk_vm_request *req)
{
    struct run_io *x = opaque;
    if (x->served)
        return 1;
    x->served = 1;
    memset(req, 0, sizeof *req);
    req->method = "POST";
    req->path = "/";
    req->body = x->body;
    req->body_len = x->len;
    req->id = 1;
    return 0;
}

static int st_send(void *opaque, const struct funk_vm_response *resp)
{
    struct run_io *x = opaque;
    free(x->out);
    x->out = NULL;
    x->out_len = 0;
    if (resp->body_len && !(x->out = malloc(resp->body_len)))
        return -ENOMEM;
    if (resp->body_len)
        memcpy(x->out, resp->body, resp->body_len);
    x->out_len = resp->body_len;
    return 0;
}

static void st_console(void *opaque, const char *data, size_t len)
{
    struct run_io *x = opaque;
    struct wd_proc_result *r = x->res;
    if (x->echo && fwrite(data, 1, len, stderr) != len)
        x->echo = 0;
    size_t take = r->err_len < ERR_MAX ? ERR_MAX - r->err_len : 0;
    if (take > len)
        take = len;
    char *e = take ? realloc(r->err, r->err_len + take + 1) : NULL;
    if (!e)
        return;
    memcpy(e + r->err_len, data, take);
    r->err_len += take;
    e[r->err_len] = '\0';
    r->err = e;
}

/* exec_timeout: a thread that kicks the guest when the deadline passes first */
struct kicker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, fired;
    struct funk_vm *vm;
    struct timespec deadline;
};

static void *kick_thread(void *arg)
{
    struct kicker *k = arg;
    pthread_mutex_lock(&k->mu);
    while (!k->done)
        if (pthread_cond_timedwait(&k->cv, &k->mu, &k->deadline) == ETIMEDOUT && !k->done) {
            k->fired = 1;
            funk_vm_kick(k->vm);
            break;
        }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

static int run_guest(char *const argv[], char *const env[], const char *body, size_t body_len,
                     wd_output_fn out, void *opaque, uint64_t timeout_ms, int echo_stderr,
                     struct wd_proc_result *res)
{
    memset(res, 0, sizeof *res);
    struct funk_vm *vm = NULL;
    int rc = funk_vm_shell_new(g_st.mem, FUNK_VM_F_PROCESS | FUNK_VM_F_LINUX, &vm);
    if (rc) {
        res->spawn_error = -rc;
        return 0;
    }
    struct funk_vm_boot boot = {
        .argv = (const char *const *)argv, .env = (const char *const *)env, .bundle = g_st.bundle};
    rc = funk_vm_load(vm, g_st.elf, g_st.elf_len, &boot);
    if (rc) {
        rt_log(RT_ERROR, "%s: %s", argv[0], funk_vm_error(vm));
        res->spawn_error = -rc;
        funk_vm_delete(vm);
        return 0;
    }
    struct run_io x = {.body = body, .len = body_len, .res = res, .echo = echo_stderr};
    struct funk_vm_io io = {.recv = st_recv, .send = st_send, .console = st_console, .opaque = &x};
    struct kicker k = {.vm = vm};
    pthread_t kt;
    int have_kicker = 0;
    if (timeout_ms) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_mutex_init(&k.mu, NULL);
        pthread_cond_init(&k.cv, &ca);
        pthread_condattr_destroy(&ca);
        clock_gettime(CLOCK_MONOTONIC, &k.deadline);
        k.deadline.tv_sec += (time_t)(timeout_ms / 1000);
        k.deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (k.deadline.tv_nsec >= 1000000000L) {
            k.deadline.tv_sec++;
            k.deadline.tv_nsec -= 1000000000L;
        }
        have_kicker = pthread_create(&kt, NULL, kick_thread, &k) == 0;
    }
    struct funk_vm_result vr;
    memset(&vr, 0, sizeof vr);
    rc = funk_vm_run(vm, &io, &vr);
    if (have_kicker) {
        pthread_mutex_lock(&k.mu);
        k.done = 1;
        pthread_cond_signal(&k.cv);
        pthread_mutex_unlock(&k.mu);
        pthread_join(kt, NULL);
    }
    if (timeout_ms) {
        pthread_mutex_destroy(&k.mu);
        pthread_cond_destroy(&k.cv);
    }
    if (rc) {
        res->spawn_error = -rc;
    } else if (k.fired) {
        res->timed_out = 1;
    } else if (vr.exit == FUNK_VM_EXIT_HALT) {
        res->exit_status = vr.status;
    } else {
        /* a fault, a refused call that ended it, a bad frame: 500 with the reason */
        res->exit_status = funk_vm_result_exit_code(&vr);
        st_console(&x, vr.reason, strnlen(vr.reason, sizeof vr.reason));
        st_console(&x, "\n", 1);
    }
    funk_vm_delete(vm);
    /* The answer only once the exit status is known: a failed run never looks like a 200. */
    if (!rc && !res->timed_out && res->exit_status == 0 && x.out_len &&
        out(opaque, x.out, x.out_len) < 0)
        res->sink_failed = 1;
    free(x.out);
    return 0;
}

int rt_stdio_serve(const struct rt_bundle *b, const char *elf, size_t elf_len,
                   const char *bundle_dir)
{
    g_st.elf = elf;
    g_st.elf_len = elf_len;
    g_st.mem = b->mem_bytes;
    g_st.bundle = bundle_dir;
    /* The watchdog reads its configuration (fprocess, port, timeouts) from the environment and
     * hands that environment to each request: the container's process.env. */
    clearenv();
    for (size_t i = 0; b->env && b->env[i]; i++)
        if (putenv(b->env[i]) != 0)
            return 1;
    static const struct wd_host host = {.name = "funk-runtime", .run = run_guest, .lockfile = 0};
    char *argv[] = {"funk-runtime", NULL};
    return wd_main(1, argv, &host);
}
