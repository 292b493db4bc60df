/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin registry: finding, loading and checking plugin shared objects; the dispatch table. */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FUNK_PLUGIN_INSTALL_DIR
#define FUNK_PLUGIN_INSTALL_DIR "/usr/local/lib/funk"
#endif

pthread_mutex_t accel_plugin_lock = PTHREAD_MUTEX_INITIALIZER;
_Atomic(struct accel_dtable *) accel_dt;

/* Guarded by accel_plugin_lock. */
static struct accel_plugin **plugins;
static size_t n_plugins, cap_plugins;
static uint32_t next_index;
static struct accel_dtable *latest; /* newest table built, published or not */

/* Builds a new snapshot of the plugin list; the caller publishes it. */
static struct accel_dtable *table_build(void)
{
    size_t n = n_plugins;
    struct accel_dtable *t = calloc(1, sizeof(*t));
    struct accel_plugin **all = calloc(n ? n : 1, sizeof(*all) * (1 + FUNK_ACCEL_OP_COUNT));
    if (t == NULL || all == NULL) {
        free(t);
        free(all);
        return NULL;
    }
    /* Stable insertion sort by priority, highest first: equal priorities keep load order. */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && all[j - 1]->desc.priority < plugins[i]->desc.priority) {
            all[j] = all[j - 1];
            j--;
        }
        all[j] = plugins[i];
    }
    t->plugins = all;
    t->n_plugins = n;
    for (int op = 0; op < FUNK_ACCEL_OP_COUNT; op++) {
        t->by_op[op] = all + (size_t)(op + 1) * (n ? n : 1);
        for (size_t i = 0; i < n; i++)
            if (all[i]->available && (all[i]->ops & (1u << op)))
                t->by_op[op][t->n_by_op[op]++] = all[i];
    }
    t->prev = latest;
    latest = t;
    return t;
}

static void table_free_all(void)
{
    while (latest) {
        struct accel_dtable *prev = latest->prev;
        free(latest->plugins);
        free(latest);
        latest = prev;
    }
}

static bool valid_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static char *try_dir(const char *dir, size_t dlen, const char *name)
{
    char buf[PATH_MAX];
    int n = snprintf(buf, sizeof(buf), "%.*s/libfunk-accel-%s.so", (int)dlen, dir, name);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return NULL;
    if (access(buf, F_OK) != 0)
        return NULL;
    return strdup(buf);
}

/* The directory holding libfunk-accel.so itself, plus "/funk" (build/lib -> build/lib/funk). */
int accel_self_plugin_dir(char *buf, size_t len)
{
    Dl_info info;
    if (dladdr((void *)&funk_accel_init, &info) == 0 || info.dli_fname == NULL)
        return -1;
    const char *slash = strrchr(info.dli_fname, '/');
    if (slash == NULL)
        return -1;
    int n = snprintf(buf, len, "%.*s/funk", (int)(slash - info.dli_fname), info.dli_fname);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

/* Name -> path of libfunk-accel-NAME.so, in the documented search order. */
static char *resolve(const char *name)
{
    const char *env = getenv("FUNK_ACCEL_PLUGIN_PATH");
    char *path = NULL;
    while (env && *env && path == NULL) {
        const char *end = strchr(env, ':');
        size_t len = end ? (size_t)(end - env) : strlen(env);
        if (len)
            path = try_dir(env, len, name);
        env = end ? end + 1 : NULL;
    }
    char self[PATH_MAX];
    if (path == NULL && accel_self_plugin_dir(self, sizeof(self)) == 0)
        path = try_dir(self, strlen(self), name);
    if (path == NULL)
        path = try_dir(FUNK_PLUGIN_INSTALL_DIR, strlen(FUNK_PLUGIN_INSTALL_DIR), name);
    if (path == NULL) {
        const char *e = getenv("FUNK_ACCEL_PLUGIN_PATH");
        accel_debug("plugin '%s' not found in FUNK_ACCEL_PLUGIN_PATH=%s, %s, %s", name,
                    e ? e : "(unset)", accel_self_plugin_dir(self, sizeof(self)) == 0 ? self : "?",
                    FUNK_PLUGIN_INSTALL_DIR);
    }
    return path;
}

static struct accel_plugin *find_by_name(const char *name)
{
    for (size_t i = 0; i < n_plugins; i++)
        if (!strcmp(plugins[i]->desc.name, name))
            return plugins[i];
    return NULL;
}

static uint32_t ops_mask(const funk_accel_plugin *d)
{
    uint32_t m = 0;
    m |= d->noop ? 1u << FUNK_ACCEL_OP_NOOP : 0;
    m |= d->exec ? 1u << FUNK_ACCEL_OP_EXEC : 0;
    m |= d->sgemm ? 1u << FUNK_ACCEL_OP_SGEMM : 0;
    m |= d->image_classify ? 1u << FUNK_ACCEL_OP_IMAGE_CLASSIFY : 0;
    m |= d->image_detect ? 1u << FUNK_ACCEL_OP_IMAGE_DETECT : 0;
    m |= d->op ? 1u << FUNK_ACCEL_OP_GENERIC : 0;
    m |= d->model_run ? 1u << FUNK_ACCEL_OP_MODEL_RUN : 0;
    return m;
}

/* Loads, checks and initialises one plugin; adds it to the list (not yet to a table). */
static int load_one(const char *name_or_path, bool explicit_name)
{
    int rc = 0;
    char *path = NULL;
    void *dl = NULL;
    struct accel_plugin *p = NULL;
    /* A missing plugin from the default list is worth a warning; a named one is an error. */
    funk_accel_log_level miss = explicit_name ? FUNK_LOG_ERROR : FUNK_LOG_WARN;

    if (strchr(name_or_path, '/')) {
        path = strdup(name_or_path);
        if (path == NULL)
            return -ENOMEM;
        if (access(path, F_OK) != 0) {
            funk_accel_log(miss, ACCEL_LOG, "plugin %s: no such file", path);
            rc = -ENOENT;
            goto fail;
        }
    } else {
        if (!valid_name(name_or_path)) {
            accel_err("plugin name '%s' is not valid (letters, digits, '_' and '-')", name_or_path);
            return -EINVAL;
        }
        path = resolve(name_or_path);
        if (path == NULL) {
            funk_accel_log(miss, ACCEL_LOG,
                           "plugin '%s' not found (looked for libfunk-accel-%s.so in "
                           "FUNK_ACCEL_PLUGIN_PATH, next to libfunk-accel, and %s)",
                           name_or_path, name_or_path, FUNK_PLUGIN_INSTALL_DIR);
            return -ENOENT;
        }
    }

    /* NODELETE: plugins stay mapped after fini so leak reports keep their stack frames. */
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (dl == NULL) {
        accel_err("plugin %s: cannot load: %s", path, dlerror());
        rc = -ENOEXEC;
        goto fail;
    }
    const funk_accel_plugin *d = dlsym(dl, FUNK_ACCEL_PLUGIN_SYMBOL);
    if (d == NULL) {
        accel_err("plugin %s: not a funk plugin (no symbol %s)", path, FUNK_ACCEL_PLUGIN_SYMBOL);
        rc = -ENOEXEC;
        goto fail;
    }
    /* The major version comes first: nothing else in the struct is trustworthy otherwise. */
    if (d->abi_major != FUNK_ACCEL_PLUGIN_ABI_MAJOR) {
        accel_err("plugin %s: built for plugin ABI %u.%u, this runtime speaks ABI %u.%u: refused",
                  path, d->abi_major, d->abi_minor, FUNK_ACCEL_PLUGIN_ABI_MAJOR,
                  FUNK_ACCEL_PLUGIN_ABI_MINOR);
        rc = -ENOEXEC;
        goto fail;
    }
    /* ABI 1.0 defines every field up to `op`; later minors only append. */
    if (d->struct_size < offsetof(funk_accel_plugin, op) + sizeof(d->op)) {
        accel_err("plugin %s: descriptor size %u is smaller than ABI %u.0 requires (%zu)", path,
                  d->struct_size, FUNK_ACCEL_PLUGIN_ABI_MAJOR,
                  offsetof(funk_accel_plugin, op) + sizeof(d->op));
        rc = -ENOEXEC;
        goto fail;
    }
    if (d->name == NULL || !valid_name(d->name)) {
        accel_err("plugin %s: descriptor has no valid name", path);
        rc = -ENOEXEC;
        goto fail;
    }
    if (find_by_name(d->name)) {
        accel_err("plugin %s: a plugin named '%s' is already loaded", path, d->name);
        rc = -EEXIST;
        goto fail;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    memcpy(&p->desc, d, d->struct_size < sizeof(p->desc) ? d->struct_size : sizeof(p->desc));
    p->dl = dl;
    p->path = path;
    p->ops = ops_mask(&p->desc);
    p->available = true;
    if (p->desc.init) {
        rc = p->desc.init(&p->state);
        if (rc == -ENODEV) {
            funk_accel_log(FUNK_LOG_INFO, p->desc.name, "device absent: listed as unavailable");
            p->available = false;
            p->state = NULL;
            rc = 0;
        } else if (rc < 0) {
            accel_err("plugin %s: init failed: %s", path, funk_accel_strerror(rc));
            goto fail;
        }
    }
    if (n_plugins == cap_plugins) {
        size_t ncap = cap_plugins ? cap_plugins * 2 : 8;
        struct accel_plugin **np = realloc(plugins, ncap * sizeof(*np));
        if (np == NULL) {
            if (p->available && p->desc.fini)
                p->desc.fini(p->state);
            rc = -ENOMEM;
            goto fail;
        }
        plugins = np;
        cap_plugins = ncap;
    }
    p->index = next_index++;
    plugins[n_plugins++] = p;
    funk_accel_log(FUNK_LOG_INFO, ACCEL_LOG, "loaded plugin %s %s (priority %d) from %s%s",
                   p->desc.name, p->desc.version ? p->desc.version : "?", p->desc.priority, path,
                   p->available ? "" : " [unavailable]");
    return 0;
fail:
    free(p);
    if (dl)
        dlclose(dl);
    free(path);
    return rc;
}

static void unload(struct accel_plugin *p)
{
    accel_resources_drop_slots(p);
    if (p->available && p->desc.fini)
        p->desc.fini(p->state);
    dlclose(p->dl);
    free(p->path);
    free(p);
}

/* Unloads the plugins added after the first `keep` (a failed explicit init rolls back). */
static void unload_from(size_t keep)
{
    while (n_plugins > keep)
        unload(plugins[--n_plugins]);
}

void accel_plugins_unload_all(void)
{
    unload_from(0);
    free(plugins);
    plugins = NULL;
    cap_plugins = 0;
    next_index = 0;
    table_free_all();
}

/* Loads a colon-separated list; with explicit=false missing plugins are skipped. */
static int load_list(const char *list, bool explicit_list)
{
    size_t keep = n_plugins;
    char *copy = strdup(list);
    if (copy == NULL)
        return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        int r = load_one(tok, explicit_list);
        if (r < 0 && explicit_list) {
            rc = r;
            break;
        }
        if (r < 0 && r != -ENOENT)
            accel_warn("default plugin '%s' skipped: %s", tok, funk_accel_strerror(r));
    }
    free(copy);
    if (rc < 0)
        unload_from(keep);
    return rc;
}

/* Callers hold accel_plugin_lock and have checked that the runtime is not initialised. */
static int init_locked(const char *list, struct accel_dtable **out)
{
    accel_log_reload();
    accel_profile_setup();
    bool explicit_list = true;
    if (list == NULL) {
        list = getenv("FUNK_ACCEL_PLUGINS");
        if (list == NULL) {
            list = "cpu:exec";
            explicit_list = false;
        }
    }
    int rc = load_list(list, explicit_list);
    if (rc < 0)
        return rc;
    struct accel_dtable *t = table_build();
    if (t == NULL) {
        unload_from(0);
        return -ENOMEM;
    }
    atomic_store_explicit(&accel_dt, t, memory_order_release);
    *out = t;
    return 0;
}

int accel_init_lazy(struct accel_dtable **out)
{
    pthread_mutex_lock(&accel_plugin_lock);
    int rc = 0;
    *out = atomic_load(&accel_dt);
    if (*out == NULL)
        rc = init_locked(NULL, out);
    pthread_mutex_unlock(&accel_plugin_lock);
    return rc;
}

FUNK_API int funk_accel_init(const char *list)
{
    pthread_mutex_lock(&accel_plugin_lock);
    int rc = -EALREADY;
    struct accel_dtable *t;
    if (atomic_load(&accel_dt) == NULL)
        rc = init_locked(list, &t);
    pthread_mutex_unlock(&accel_plugin_lock);
    return rc;
}

FUNK_API int funk_accel_plugin_load(const char *name_or_path)
{
    if (name_or_path == NULL || *name_or_path == '\0')
        return -EINVAL;
    int rc = 0;
    if (accel_table(&rc) == NULL)
        return rc;
    pthread_mutex_lock(&accel_plugin_lock);
    if (atomic_load(&accel_dt) == NULL) {
        rc = -ESHUTDOWN; /* fini ran in between */
        goto out;
    }
    rc = load_one(name_or_path, true);
    if (rc < 0)
        goto out;
    struct accel_dtable *t = table_build();
    if (t == NULL) {
        unload_from(n_plugins - 1);
        rc = -ENOMEM;
        goto out;
    }
    atomic_store_explicit(&accel_dt, t, memory_order_release);
out:
    pthread_mutex_unlock(&accel_plugin_lock);
    return rc;
}

FUNK_API int funk_accel_plugins(funk_accel_plugin_info *out, size_t max)
{
    if (out == NULL && max > 0)
        return -EINVAL;
    int rc = 0;
    struct accel_dtable *t = accel_table(&rc);
    if (t == NULL)
        return rc;
    for (size_t i = 0; i < t->n_plugins && i < max; i++) {
        const struct accel_plugin *p = t->plugins[i];
        out[i] = (funk_accel_plugin_info){
            .name = p->desc.name,
            .version = p->desc.version ? p->desc.version : "",
            .description = p->desc.description ? p->desc.description : "",
            .priority = p->desc.priority,
            .ops = p->ops,
            .path = p->path,
            .available = p->available,
        };
    }
    return t->n_plugins > INT_MAX ? INT_MAX : (int)t->n_plugins;
}
