/* SPDX-License-Identifier: Apache-2.0 */
/* exec plugin: dlopen a LIBRARY resource once (cached in its slot) and call a symbol of it. Only
 * libraries the operator installed are loaded: the runtime hands out the allowlisted file. */
#include <funk/accel_plugin.h>

#include <dlfcn.h>
#include <errno.h>

#define LOG "exec"

static int exec_exec(const funk_accel_call *c, funk_accel_resource *library, const char *symbol,
                     const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out)
{
    void *dl = funk_accel_resource_slot_get(library, c);
    if (dl == NULL) {
        const char *path;
        int rc = funk_accel_resource_library_path(library, &path);
        if (rc < 0)
            return rc; /* -EPERM: not an operator-installed library (the runtime logged why) */
        void *mine = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (mine == NULL) {
            funk_accel_log(FUNK_LOG_ERROR, LOG, "library resource cannot be loaded: %s", dlerror());
            return -EBADMSG;
        }
        dl = funk_accel_resource_slot_set(library, c, mine);
        if (dl != mine) /* another thread loaded it first, or the slot could not be set */
            dlclose(mine);
        if (dl == NULL)
            return -ENOMEM;
        funk_accel_log(FUNK_LOG_DEBUG, LOG, "loaded library resource from %s", path);
    }
    /* POSIX guarantees a data-to-function pointer conversion for dlsym results. */
    void *sym = dlsym(dl, symbol);
    if (sym == NULL) {
        funk_accel_log(FUNK_LOG_INFO, LOG, "symbol '%s' not found in library resource", symbol);
        return -ENOENT;
    }
    funk_accel_exec_fn fn;
    *(void **)&fn = sym;
    return fn(in, n_in, out, n_out);
}

static void exec_resource_free(void *plugin_state, void *slot)
{
    (void)plugin_state;
    dlclose(slot);
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 100, .name = "exec", .version = "0.1.0",
                         .description = "calls symbols of registered shared-library resources",
                         .resource_free = exec_resource_free, .exec = exec_exec);
