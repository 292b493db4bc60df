/* SPDX-License-Identifier: Apache-2.0 */
/* torch plugin: funk_accel_model_run on TorchScript models with libtorch (CPU; CUDA only where
 * the libtorch build has it, which Debian's does not). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <funk/accel_plugin.h>

#include "torch_shim.h"

#define TORCH_LOG "torch"

/* What a model resource holds for this plugin (its slot): the loaded module, or a remembered
 * refusal so that a model libtorch cannot read is not parsed again on every call. */
struct torch_model {
    torch_net *net; /* NULL: declined */
    int rc;         /* the load's answer when net is NULL */
    pthread_mutex_t lock;
};

static int torch_init(void **state)
{
    const char *v = getenv("FUNK_ACCEL_CPU_THREADS");
    if (v && *v) {
        int n = atoi(v);
        if (n > 0)
            torch_shim_set_threads(n);
    }
    funk_accel_log(FUNK_LOG_INFO, TORCH_LOG, "libtorch %s, CUDA %s", torch_shim_version(),
                   torch_shim_cuda() ? "available" : "not in this build or no device: CPU");
    *state = NULL;
    return 0;
}

static void model_free(struct torch_model *m)
{
    if (m == NULL)
        return;
    torch_shim_free(m->net);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static void torch_resource_free(void *state, void *slot)
{
    (void)state;
    model_free(slot);
}

/* TorchScript files are zip archives (torch.jit.save); the "format" attribute may say so too. */
static bool torchscript(funk_accel_resource *model, const void *data, size_t len)
{
    const char *fmt = funk_accel_resource_get_attr(model, "format");
    if (fmt != NULL)
        return strcmp(fmt, "torchscript") == 0;
    return len >= 4 && !memcmp(data, "PK\x03\x04", 4);
}

static int get_model(const funk_accel_call *c, funk_accel_resource *r, struct torch_model **out)
{
    struct torch_model *m = funk_accel_resource_slot_get(r, c);
    if (m == NULL) {
        const void *data;
        size_t len;
        int rc = funk_accel_resource_data(r, &data, &len);
        if (rc < 0)
            return rc;
        m = calloc(1, sizeof(*m));
        if (m == NULL)
            return -ENOMEM;
        pthread_mutex_init(&m->lock, NULL);
        char err[256] = "";
        /* Another format is declined here and on every later call without looking again. */
        m->rc = torchscript(r, data, len) ? torch_shim_load(&m->net, data, len, err, sizeof(err))
                                          : -ENOTSUP;
        if (m->rc < 0 && m->rc != -ENOTSUP)
            funk_accel_log(FUNK_LOG_WARN, TORCH_LOG, "TorchScript model of %zu bytes: %s", len,
                           err[0] ? err : funk_accel_strerror(m->rc));
        if (m->rc == -ENOMEM) { /* not remembered: may work later */
            model_free(m);
            return -ENOMEM;
        }
        struct torch_model *won = funk_accel_resource_slot_set(r, c, m);
        if (won != m)
            model_free(m);
        m = won;
    }
    if (m->net == NULL)
        return m->rc < 0 ? m->rc : -EBADMSG;
    *out = m;
    return 0;
}

static int torch_model_run(const funk_accel_call *c, funk_accel_resource *model,
                           const funk_accel_tensor *in, size_t n_in, funk_accel_tensor *out,
                           size_t n_out)
{
    struct torch_model *m = NULL;
    int rc = get_model(c, model, &m);
    if (rc < 0)
        return rc;
    char err[256] = "";
    pthread_mutex_lock(&m->lock);
    rc = torch_shim_run(m->net, in, n_in, out, n_out, err, sizeof(err));
    pthread_mutex_unlock(&m->lock);
    if (rc < 0 && rc != -ENOSPC)
        funk_accel_log(FUNK_LOG_WARN, TORCH_LOG, "model_run: %s",
                       err[0] ? err : funk_accel_strerror(rc));
    return rc;
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 120, .name = "torch", .version = "0.1.0",
                         .description = "model runs of TorchScript models on libtorch (CPU)",
                         .init = torch_init, .resource_free = torch_resource_free,
                         .model_run = torch_model_run);
