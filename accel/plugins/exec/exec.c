/* SPDX-License-Identifier: Apache-2.0 */
/* exec plugin: dlopen a LIBRARY resource once (cached in its slot) and call a symbol it defines.
 * Only libraries the operator installed are loaded: the runtime hands out the allowlisted file. */
#include <funk/accel_plugin.h>

#include <errno.h>

#define LOG "exec"

static int exec_exec(const funk_accel_call *c, funk_accel_resource *library, const char *symbol,
                     const funk_accel_arg *in, size_t n_in, funk_accel_arg *out, size_t n_out)
{
    void *dl = funk_accel_resource_slot_get(library, c);
    if (dl == NULL) {
        uint8_t hash[FUNK_ACCEL_HASH_SIZE];
        int rc = funk_accel_resource_hash(library, hash);
        if (rc < 0)
            return rc;
        void *mine;
        rc = funk_accel_library_open(hash, &mine);
        if (rc < 0)
            return rc; /* -EPERM: not an operator-installed library (the runtime logged why) */
        dl = funk_accel_resource_slot_set(library, c, mine);
        if (dl != mine) /* another thread loaded it first, or the slot could not be set */
            funk_accel_library_close(mine);
        if (dl == NULL)
            return -ENOMEM;
    }
    /* Only what the library itself defines: never libc's system or the runtime's own functions
     * that dlsym would find among its dependencies. POSIX guarantees a data-to-function pointer
     * conversion for dlsym results. */
    void *sym = funk_accel_library_lookup(dl, symbol);
    if (sym == NULL) {
        funk_accel_log(FUNK_LOG_INFO, LOG, "symbol '%s' is not defined by the library resource",
                       symbol);
        return -ENOENT;
    }
    funk_accel_exec_fn fn;
    *(void **)&fn = sym;
    return fn(in, n_in, out, n_out);
}

static void exec_resource_free(void *plugin_state, void *slot)
{
    (void)plugin_state;
    funk_accel_library_close(slot);
}

FUNK_ACCEL_PLUGIN_DEFINE(.priority = 100, .name = "exec", .version = "0.1.0",
                         .description = "calls symbols of registered shared-library resources",
                         .resource_free = exec_resource_free, .exec = exec_exec);
